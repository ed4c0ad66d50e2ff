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

"""[usb] device_spec: which host USB devices may be handed out, how, and
to which projects.

Parsing checks every rule once, at start-up; matching is one pure function
shared by enumeration, attach and hotplug. The first rule that selects a
device decides everything about it: its resource class and traits in
placement, whether it is for flavors, for the API or for both (``use``),
and the projects it is granted to through the API (``projects``; admins
grant single devices through the API too, see nova_usb.api.grants).
"""

import dataclasses
import fnmatch
import re
import typing as ty

from oslo_serialization import jsonutils

from nova_usb import exception

WILDCARD = '*'


def _hex_validator(digits, example):
    pattern = re.compile(r'^[0-9a-fA-F]{%d}$' % digits)

    def validate(value):
        if not pattern.match(value):
            return 'must be %d hexadecimal digits, e.g. "%s"' % (
                digits, example)
    return validate


_PORT_PATH = re.compile(r'^\d+-\d+(\.\d+)*(\.\*)?$')


def _validate_port_path(value):
    if not _PORT_PATH.match(value):
        return ('must be a kernel port path such as "1-2.3", optionally '
                'ending in ".*" for every device below that port')


def _validate_serial(value):
    if not value.strip():
        return 'must not be empty or blank'


_PLACEMENT_NAME = re.compile(r'^[A-Za-z0-9_]+$')


def _validate_resource_class(value):
    if not _PLACEMENT_NAME.match(value):
        return ('must be a placement resource class name such as '
                '"CUSTOM_BANK_TOKEN" (letters, digits and "_")')


def _validate_traits(value):
    if not all(_PLACEMENT_NAME.match(t.strip()) for t in value.split(',')):
        return ('must be comma-separated placement trait names such as '
                '"CUSTOM_FIDO2,CUSTOM_BANK" (letters, digits and "_")')


def _validate_use(value):
    if value not in USES:
        return 'must be one of %s' % ', '.join('"%s"' % u for u in USES)


# key -> (validator returning an error or None, normaliser)
_FIELDS = {
    'vendor_id': (_hex_validator(4, '1050'), str.lower),
    'product_id': (_hex_validator(4, '0407'), str.lower),
    'serial': (_validate_serial, str),
    'port_path': (_validate_port_path, str),
    'device_class': (_hex_validator(2, '03'), str.lower),
    # How the matched devices are reported to placement
    # (nova_usb.virt.placement), not which devices match.
    'resource_class': (_validate_resource_class, str),
    'traits': (_validate_traits, str),
    # Who may have the matched devices, not which devices match.
    'use': (_validate_use, str),
}

# The fields that select devices: a rule that sets none of them selects
# every device of the host (keyboards, mice, storage, ...).
MATCH_FIELDS = ('vendor_id', 'product_id', 'serial', 'port_path',
                'device_class')

# ``use``: a device for flavors is given only to servers whose flavor asks
# for its resource class (placement allocates it); a device for the API
# only through nova-usb's API, to the projects it is granted to.
USE_ANY = 'any'
USE_API = 'api'
USE_FLAVOR = 'flavor'
USES = (USE_ANY, USE_API, USE_FLAVOR)
# ``projects``: every project may have the devices through the API.
ALL_PROJECTS = '*'
_PROJECT_ID = re.compile(r'^[^\s]{1,255}$')


@dataclasses.dataclass(frozen=True)
class DeviceSpec:
    """One rule; a field left as None matches anything."""

    vendor_id: ty.Optional[str] = None
    product_id: ty.Optional[str] = None
    serial: ty.Optional[str] = None
    port_path: ty.Optional[str] = None
    device_class: ty.Optional[str] = None
    resource_class: ty.Optional[str] = None
    traits: ty.Optional[str] = None
    use: str = USE_ANY
    # Project ids the devices are granted to through the API; ('*',) for
    # every project; () for none (admins only).
    projects: ty.Tuple[str, ...] = ()

    def selects_everything(self):
        return all(getattr(self, f) is None for f in MATCH_FIELDS)

    def for_api(self):
        return self.use in (USE_ANY, USE_API)

    def for_flavors(self):
        return self.use in (USE_ANY, USE_FLAVOR)

    def grants(self, project_id):
        """Whether the rule grants its devices to the project."""
        return ALL_PROJECTS in self.projects or project_id in self.projects


def _parse_projects(value):
    """The ``projects`` key: a list of project ids, or "*"; an error
    message when it is neither.
    """
    if value == ALL_PROJECTS:
        return (ALL_PROJECTS,), None
    if (not isinstance(value, list) or
            not all(isinstance(p, str) and _PROJECT_ID.match(p)
                    for p in value)):
        return None, ('"projects" must be a list of project ids such as '
                      '["8f2a..."], or "*" for every project')
    return tuple(sorted(set(value))), None


def parse_device_spec(index, entry):
    """One DeviceSpec from the JSON text of rule number index."""
    def invalid(reason):
        return exception.InvalidDeviceSpec(
            index=index, entry=entry, reason=reason)

    try:
        rule = jsonutils.loads(entry)
    except ValueError as e:
        raise invalid('not valid JSON (%s)' % e)
    if not isinstance(rule, dict):
        raise invalid('must be a JSON object such as '
                      '{"vendor_id": "1050", "product_id": "0407"}')
    fields = {}
    all_devices = rule.pop('all_devices', False)
    if all_devices not in (True, False):
        raise invalid('"all_devices" must be true or false')
    if 'projects' in rule:
        fields['projects'], error = _parse_projects(rule.pop('projects'))
        if error:
            raise invalid(error)
    for key, value in rule.items():
        if key not in _FIELDS:
            raise invalid('unknown key "%s"; known keys: %s' % (
                key, ', '.join(sorted(
                    list(_FIELDS) + ['all_devices', 'projects']))))
        if not isinstance(value, str):
            raise invalid('"%s" must be a string' % key)
        if value == WILDCARD:
            continue
        validate, normalise = _FIELDS[key]
        error = validate(value)
        if error:
            raise invalid('"%s" %s' % (key, error))
        fields[key] = normalise(value)
    spec = DeviceSpec(**fields)
    if spec.selects_everything() and not all_devices:
        raise invalid('it selects every USB device of the host (keyboards, '
                      'mice, storage, ...): name the devices (vendor_id, '
                      'product_id, serial, port_path or device_class), or '
                      'add "all_devices": true to mean it')
    if all_devices and not spec.selects_everything():
        raise invalid('"all_devices": true is for a rule that selects '
                      'every device, and this one selects some only')
    return spec


def parse_device_specs(entries):
    """All rules of [usb] device_spec, numbered from 1 in messages."""
    return tuple(parse_device_spec(index, entry)
                 for index, entry in enumerate(entries or (), start=1))


def matches(spec, device):
    """Whether spec selects device (a HostUsbDevice)."""
    if spec.vendor_id is not None and spec.vendor_id != device.vendor_id:
        return False
    if spec.product_id is not None and spec.product_id != device.product_id:
        return False
    if spec.serial is not None and spec.serial != device.serial:
        return False
    if spec.port_path is not None and not fnmatch.fnmatchcase(
            device.port_path, spec.port_path):
        return False
    if spec.device_class is not None and (
            spec.device_class != device.device_class and
            spec.device_class not in device.interface_classes):
        return False
    return True


REASON_ROOT_HUB = 'root hub: hubs are never assignable'
REASON_HUB = 'hub: hubs are never assignable'
REASON_NO_SPEC = ('[usb] device_spec is empty on this host: no device is '
                  'assignable')
REASON_NOT_MATCHED = 'not matched by [usb] device_spec'
REASON_FLAVOR_ONLY = ('for flavors only: its [usb] device_spec rule says '
                      '"use": "flavor"')


def matching_spec(specs, device):
    """The first rule that selects an assignable device (its
    resource_class and traits are the device's in placement), or None.
    """
    if device.is_root_hub or device.is_hub:
        return None
    return next((spec for spec in specs if matches(spec, device)), None)


def api_refusal(specs, device):
    """Why device may not be attached through the API, or None."""
    reason = unassignable_reason(specs, device)
    if reason is None and not matching_spec(specs, device).for_api():
        reason = REASON_FLAVOR_ONLY
    return reason


def unassignable_reason(specs, device):
    """Why device may not be handed out, or None if it may."""
    if device.is_root_hub:
        return REASON_ROOT_HUB
    if device.is_hub:
        return REASON_HUB
    if not specs:
        return REASON_NO_SPEC
    if not any(matches(spec, device) for spec in specs):
        return REASON_NOT_MATCHED
    return None
