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

"""The records a compute host sends nova-api: their round trip, their
versions, and the plain dicts of compute hosts of RPC API 1.2 and older.
"""

import copy

import jsonschema
from nova_usbclient import statuses
from oslo_versionedobjects import exception as ovo_exception
from oslo_versionedobjects import fixture as ovo_fixture
from oslotest import base

from nova_usb.api import schemas
from nova_usb.api import views
from nova_usb import records

SERVER = '4f7e3f2a-3a51-4a54-9d0c-6a3f1e7c2b10'
DEVICE = '1d0c5e5c-5a8b-5e3f-9c1a-2b7d4e6f8a90'
GONE = '7a1e9b3c-2d4f-5a6b-8c9d-0e1f2a3b4c5d'

# What a compute host of RPC API 1.2 answered (nova_usb.virt.queries and
# manager before the records), as it went over the message queue.
OLD_HOST_DEVICE = {
    'id': DEVICE, 'host': 'compute1', 'vendor_id': '1050',
    'product_id': '0407', 'vendor_name': 'Yubico', 'product_name':
    'YubiKey OTP+FIDO+CCID', 'serial': None, 'bus': 1, 'devnum': 5,
    'port_path': '1-2', 'speed': 12.0, 'device_class': '00',
    'interface_classes': ['03', '0b'], 'is_hub': False,
    'is_root_hub': False, 'assignable': True, 'reason': None,
    'server_id': SERVER, 'use': 'api', 'projects': ['*'],
}
OLD_SERVER_DEVICES = [
    dict(OLD_HOST_DEVICE, status='attached', reason=None,
         controller_model='qemu-xhci'),
    {'id': GONE, 'host': 'compute1', 'vendor_id': '0781',
     'product_id': '5567', 'status': 'missing',
     'reason': 'not on the host now', 'controller_model': None},
]
# attach_device answered the device as its host lists it.
OLD_ATTACHED = OLD_HOST_DEVICE
OLD_CONTROLLERS = [
    {'index': 0, 'model': 'piix3-uhci', 'ports': 2, 'used_ports': 1,
     'removable': False},
    {'index': 1, 'model': 'qemu-xhci', 'ports': 4, 'used_ports': 0,
     'removable': True},
]
OLD_ADDED_CONTROLLER = OLD_CONTROLLERS[1]


def host_device(**values):
    return records.HostDevice.from_rpc(dict(OLD_HOST_DEVICE, **values))


class RoundTripTestCase(base.BaseTestCase):

    def test_every_record_comes_back_as_it_went(self):
        for record in (
                host_device(),
                records.ServerDevice.of_host_device(
                    host_device(), status=statuses.ATTACHED,
                    controller_model='ehci'),
                records.ServerDevice(id=GONE, vendor_id='0781',
                                     product_id='5567',
                                     status=statuses.MISSING,
                                     reason='not on the host now'),
                records.Controller(index=1, model='qemu-xhci', ports=4,
                                   used_ports=0, removable=True)):
            primitive = record.to_rpc()
            self.assertEqual(record.VERSION,
                             primitive['nova_usb_object.version'])
            self.assertEqual('nova_usb',
                             primitive['nova_usb_object.namespace'])
            back = type(record).from_rpc(copy.deepcopy(primitive))
            self.assertEqual(record, back)
            self.assertEqual(record.to_dict(), back.to_dict())

    def test_lists_go_as_primitives(self):
        controller = records.Controller(index=0, model='ehci', ports=6,
                                        used_ports=0, removable=False)
        self.assertEqual([controller.to_rpc()],
                         records.to_rpc([controller]))
        self.assertIsNone(records.to_rpc(None))

    def test_a_record_of_another_kind_is_refused(self):
        self.assertRaises(ovo_exception.UnsupportedObjectError,
                          records.Controller.from_rpc,
                          host_device().to_rpc())

    def test_nova_serializer_passes_them_through(self):
        # nova-usb's namespace is not Nova's: Nova's serializer leaves the
        # primitives to nova_usb.rpc.
        from nova import objects
        from nova.objects import base as nova_base
        objects.register_all()
        primitive = host_device().to_rpc()
        serializer = nova_base.NovaObjectSerializer()
        self.assertEqual(primitive,
                         serializer.deserialize_entity(None, primitive))


class TypesTestCase(base.BaseTestCase):

    def test_controller_ports_is_never_null(self):
        # The API's schema wants a number; a null fails where the record
        # is built, on the compute host, not in a client.
        self.assertRaises(ValueError, records.Controller, index=1,
                          model='qemu-xhci', ports=None, used_ports=0,
                          removable=True)

    def test_status_is_one_of_the_words(self):
        self.assertRaises(ValueError, records.ServerDevice, id=GONE,
                          vendor_id='0781', product_id='5567',
                          status='gone')

    def test_the_schema_has_the_status_words(self):
        items = schemas.server_device_response['properties']['usb_device']
        self.assertEqual(list(statuses.STATUSES),
                         items['properties']['status']['enum'])

    def test_a_device_on_no_host_has_its_details_null(self):
        missing = records.ServerDevice(id=GONE, vendor_id='0781',
                                       product_id='5567',
                                       status=statuses.MISSING)
        self.assertIsNone(missing.bus)
        self.assertIsNone(missing.host)

    def test_every_field_a_view_shows_is_a_field_of_its_record(self):
        shown = {
            records.HostDevice: views.DEVICE_FIELDS + views.HOST_DETAILS +
            views.RULE_DETAILS,
            records.ServerDevice: views.DEVICE_FIELDS +
            views.ATTACHMENT_FIELDS + views.HOST_DETAILS,
            records.Controller: views.CONTROLLER_FIELDS,
        }
        for record, fields in shown.items():
            self.assertEqual([], [f for f in fields
                                  if f not in record.fields], record)


# A change of a record's fields without a new version fails here: bump
# VERSION (a new field as a minor version, nullable with a default), then
# the fingerprint.
FINGERPRINTS = {
    'Controller': '1.0-dd7437a020da00fe0093a3b3840e5ef8',
    'HostDevice': '1.0-4e9ada939511d986eef51738e09011e0',
    'ServerDevice': '1.1-15d5ae8c0735219f21b132a66877038b',
}


class VersionTestCase(base.BaseTestCase):

    def test_fingerprints(self):
        checker = ovo_fixture.ObjectVersionChecker(obj_classes={
            name: [cls] for name, cls in (
                ('Controller', records.Controller),
                ('HostDevice', records.HostDevice),
                ('ServerDevice', records.ServerDevice))})
        expected, actual = checker.test_hashes(FINGERPRINTS)
        self.assertEqual(expected, actual)

    def test_a_newer_minor_version_is_read_for_the_fields_known(self):
        primitive = host_device().to_rpc()
        primitive['nova_usb_object.version'] = '1.7'
        primitive['nova_usb_object.data']['firmware'] = '4.3.1'
        read = records.HostDevice.from_rpc(primitive)
        self.assertEqual(DEVICE, read.id)
        self.assertNotIn('firmware', read.fields)

    def test_detaching_is_attached_for_a_reader_of_1_0(self):
        detaching = records.ServerDevice(
            id=GONE, vendor_id='0781', product_id='5567',
            status=statuses.DETACHING)
        primitive = detaching.obj_to_primitive(target_version='1.0')
        self.assertEqual(
            ('1.0', statuses.ATTACHED),
            (primitive['nova_usb_object.version'],
             primitive['nova_usb_object.data']['status']))
        self.assertEqual(statuses.DETACHING, records.ServerDevice.from_rpc(
            detaching.to_rpc()).status)

    def test_another_major_version_is_refused(self):
        primitive = host_device().to_rpc()
        primitive['nova_usb_object.version'] = '2.0'
        self.assertRaises(ovo_exception.IncompatibleObjectVersion,
                          records.HostDevice.from_rpc, primitive)


class OldComputeHostTestCase(base.BaseTestCase):
    """A nova-api with the records, a compute host of RPC API 1.2 not
    upgraded yet: its plain dicts are read into the same records, and
    what the API shows of them passes the API's response schemas.
    """

    def validate(self, schema, body):
        jsonschema.validate(body, schema)

    def test_host_devices(self):
        device = records.HostDevice.from_rpc(OLD_HOST_DEVICE)
        self.assertEqual((DEVICE, SERVER, ['*'], 'api'),
                         (device.id, device.server_id, device.projects,
                          device.use))
        self.validate(schemas.host_devices_response,
                      {'usb_devices': [views.host_device(device)]})
        self.validate(schemas.server_devices_response,
                      {'usb_devices': [views.available_device(device,
                                                              False)]})

    def test_server_devices(self):
        attached, missing = records.ServerDevice.list_from_rpc(
            OLD_SERVER_DEVICES)
        self.assertEqual((statuses.ATTACHED, 'qemu-xhci', 1),
                         (attached.status, attached.controller_model,
                          attached.bus))
        self.assertEqual((statuses.MISSING, 'not on the host now', None),
                         (missing.status, missing.reason, missing.bus))
        for details in (True, False):
            self.validate(schemas.server_devices_response, {
                'usb_devices': [views.server_device(d, details)
                                for d in (attached, missing)]})

    def test_attach_answer_gets_the_request_part(self):
        attached = records.ServerDevice.from_rpc(
            OLD_ATTACHED, status=statuses.ATTACHED, controller_model='ehci')
        self.assertEqual((statuses.ATTACHED, 'ehci', None),
                         (attached.status, attached.controller_model,
                          attached.reason))
        self.validate(schemas.server_device_response,
                      {'usb_device': views.server_device(attached, True)})

    def test_controllers(self):
        found = records.Controller.list_from_rpc(OLD_CONTROLLERS)
        self.validate(schemas.controllers_response, {
            'usb_controllers': [views.controller(c) for c in found]})
        added = records.Controller.from_rpc(OLD_ADDED_CONTROLLER)
        self.validate(schemas.controller_response,
                      {'usb_controller': views.controller(added)})
