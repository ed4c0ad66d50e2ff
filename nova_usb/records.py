#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""What a compute host tells nova-api of a USB device or controller: one
typed, versioned record of each kind.

* HostDevice: a device as its host lists it (``GET /os-usb-devices``, the
  devices available to a server);
* ServerDevice: a device a server requests, with its ``status``
  (``attached`` or ``missing``); the device's own details are null when
  it is not on the host;
* Controller: a USB controller of a server and how many ports it uses.

The compute manager builds them, the RPC layer (nova_usb.rpc) sends them
as oslo.versionedobjects primitives, which carry the record's name and
version, and nova-api's views (nova_usb.api.views) cut them to the
documented fields. The fields are typed: a value of the wrong type, or a
null where none is allowed (a controller's ``ports``), fails where the
record is built, not in a client.

Compatibility, as Nova's objects have it: a change of fields bumps the
record's VERSION (a new field comes as a minor version, nullable with a
default, so that nova-api reads the older records of compute hosts that
are not upgraded yet); tests/unit/test_records.py pins each version's
fingerprint. A compute host of RPC API 1.2 or older answers with plain
dicts of the same keys: ``from_rpc`` reads those too.

The records have their own registry and namespace (``nova_usb``), outside
Nova's objects: Nova's serializer passes them through as the dicts they
are, and only nova_usb.rpc turns them back into records.
"""

from nova_usbclient import statuses
from oslo_utils import versionutils
from oslo_versionedobjects import base as ovo_base
from oslo_versionedobjects import exception as ovo_exception
from oslo_versionedobjects import fields


class UsbRecordRegistry(ovo_base.VersionedObjectRegistry):
    """nova-usb's records, kept out of Nova's NovaObjectRegistry (which
    would also set them as attributes of nova.objects).
    """


def _optional(field_class, **kwargs):
    """A nullable field that is null unless set."""
    return field_class(nullable=True, default=None, **kwargs)


class UsbRecord(ovo_base.VersionedObject,
                ovo_base.VersionedObjectDictCompat):
    """What the records share. ``record['id']`` reads like
    ``record.id``, for readers of the former dicts. Two records are equal
    when they are of one kind with equal fields (not which fields were
    set last: oslo's ComparableVersionedObject compares the primitives,
    whose list of changed fields comes from a set, in any order).
    """

    __hash__ = None

    OBJ_PROJECT_NAMESPACE = 'nova_usb'
    # Primitives keyed "nova_usb_object.name", ...: not "nova_object.",
    # so that Nova's serializer does not try to rebuild them as Nova's.
    OBJ_SERIAL_NAMESPACE = 'nova_usb_object'

    def __init__(self, **values):
        super().__init__(**values)
        self.obj_set_defaults()

    def __eq__(self, other):
        if not isinstance(other, UsbRecord):
            return NotImplemented
        return (self.obj_name() == other.obj_name() and
                self.to_dict() == other.to_dict())

    def to_dict(self):
        """Every field, as a plain dict."""
        return {name: getattr(self, name) for name in self.fields}

    def to_rpc(self):
        """The versioned primitive sent over RPC."""
        return self.obj_to_primitive()

    @classmethod
    def from_rpc(cls, answer, **fill):
        """The record a compute host sent: a versioned primitive, or the
        plain dict of a compute host of RPC API 1.2 or older.

        ``fill``: values for fields such a dict does not have (an older
        host's attach answer has no ``status``); ignored for primitives,
        which have every field of their version.
        """
        if cls._obj_primitive_key('name') not in answer:
            values = {name: value for name, value in answer.items()
                      if name in cls.fields}
            for name, value in fill.items():
                values.setdefault(name, value)
            return cls(**values)
        name = cls._obj_primitive_field(answer, 'name')
        if name != cls.obj_name():
            raise ovo_exception.UnsupportedObjectError(objtype=name)
        try:
            return cls.obj_from_primitive(answer)
        except ovo_exception.IncompatibleObjectVersion:
            # A newer minor version (a compute host upgraded before
            # nova-api, which is not the supported order): the fields
            # this version knows, the others left out. Another major
            # version is refused.
            version = cls._obj_primitive_field(answer, 'version')
            if version.split('.')[0] != cls.VERSION.split('.')[0]:
                raise
            return cls._obj_from_primitive(None, cls.VERSION, answer)

    @classmethod
    def list_from_rpc(cls, answers, **fill):
        return [cls.from_rpc(answer, **fill) for answer in answers]


def to_rpc(answer):
    """What an RPC endpoint returns for ``answer``: a record or a list of
    records as primitives; anything else (None) as it is.
    """
    if isinstance(answer, UsbRecord):
        return answer.to_rpc()
    if isinstance(answer, (list, tuple)):
        return [to_rpc(item) for item in answer]
    return answer


# What the kernel and udev report of a device: bus and device numbers,
# its port, its classes. Known for a device on the host; null for a
# server's device that is not on its host now.
def _device_details(on_host):
    def field(field_class, **kwargs):
        if on_host:
            return field_class(**kwargs)
        return _optional(field_class, **kwargs)

    return {
        'vendor_name': _optional(fields.StringField),
        'product_name': _optional(fields.StringField),
        'serial': _optional(fields.StringField),
        'bus': field(fields.IntegerField),
        'devnum': field(fields.IntegerField),
        'port_path': field(fields.StringField),
        'speed': _optional(fields.FloatField),
        'device_class': field(fields.StringField),
        'interface_classes': field(fields.ListOfStringsField),
        'is_hub': field(fields.BooleanField),
        'assignable': field(fields.BooleanField),
    }


@UsbRecordRegistry.register
class HostDevice(UsbRecord):
    """A USB device of a compute host, as the host lists it.

    ``assignable`` and ``reason``: whether [usb] device_spec lets any
    server have it, and why not; ``server_id``: the server that holds it;
    ``use`` and ``projects``: how its device_spec rule lets it be used
    (``any``, ``api``, ``flavor``; null when no rule selects it) and the
    projects the rule grants it to (nova-api adds the grants it stores,
    nova_usb.api.grants).
    """

    # Version 1.0: Initial version
    VERSION = '1.0'

    fields = dict(
        {
            'id': fields.StringField(),
            'host': fields.StringField(),
            'vendor_id': fields.StringField(),
            'product_id': fields.StringField(),
            'reason': _optional(fields.StringField),
            'server_id': _optional(fields.StringField),
            'use': _optional(fields.StringField),
            'projects': fields.ListOfStringsField(default=[]),
        },
        **_device_details(on_host=True))


@UsbRecordRegistry.register
class ServerDevice(UsbRecord):
    """A USB device a server requests, and whether it may have it now.

    ``status``: ATTACHED, DETACHING or MISSING (nova_usbclient.statuses);
    ``reason``: why it is missing (null otherwise); ``controller_model``: the
    controller model the request asked for, or null. The device's
    details are those of its host when it is there, else null, as is
    ``host`` for a server on no host (shelved offloaded).
    ``server_id``: the device's holder.
    """

    # Version 1.0: Initial version
    # Version 1.1: status may be DETACHING
    VERSION = '1.1'

    fields = dict(
        {
            'id': fields.StringField(),
            'host': _optional(fields.StringField),
            'vendor_id': fields.StringField(),
            'product_id': fields.StringField(),
            'reason': _optional(fields.StringField),
            'server_id': _optional(fields.StringField),
            'status': fields.EnumField(valid_values=statuses.STATUSES),
            'controller_model': _optional(fields.StringField),
        },
        **_device_details(on_host=False))

    def obj_make_compatible(self, primitive, target_version):
        super().obj_make_compatible(primitive, target_version)
        if (versionutils.convert_version_to_tuple(target_version) < (1, 1)
                and primitive.get('status') == statuses.DETACHING):
            # Still the server's until the detach ends.
            primitive['status'] = statuses.ATTACHED

    @classmethod
    def of_host_device(cls, device, **values):
        """The server's request for ``device`` (a HostDevice), with
        ``values`` (status, reason, controller_model).
        """
        shared = {name: getattr(device, name) for name in cls.fields
                  if name in device.fields}
        shared.update(values)
        return cls(**shared)


@UsbRecordRegistry.register
class Controller(UsbRecord):
    """A USB controller of a server.

    ``ports``: how many ports it has, always a number. The compute host
    always knows it: libvirt's fixed count for the model, else the
    controller's ``ports`` attribute, else the xHCI default
    (nova_usb.virt.controllers.controller_ports, nova_usb.virt.ports).
    The port count a request asked for, null for most models, is not it.
    ``used_ports``: how many of them devices take; ``removable``: whether
    nova-usb added it (and may remove it).
    """

    # Version 1.0: Initial version
    VERSION = '1.0'

    fields = {
        'index': fields.IntegerField(),
        'model': fields.StringField(),
        'ports': fields.IntegerField(),
        'used_ports': fields.IntegerField(),
        'removable': fields.BooleanField(),
    }
