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

"""Which projects may use a USB device through the API.

A device is granted to a project by either of:

* its [usb] device_spec rule (``"projects"``), as its compute host reports
  it in the device's record (records.HostDevice ``projects``; ``["*"]``:
  every project);
* a grant an admin stored for the device alone (``PUT
  /os-usb-devices/{device_id}/grants/{project_id}``), in nova-usb's own
  database (nova_usb.db.api), read here by nova-api only: compute hosts
  never have database credentials.

A device nothing grants is for callers whom policy
``nova_usb:server-devices:attach:ungranted`` lets use any device (admins);
to anyone else it is as if it did not exist: it is not listed as
available, and attaching it gets the same 404 as an unknown device. A
device whose rule is for flavors only is never listed as available, and
its compute host refuses to attach it through the API.

nova-api filters what it lists; for an attach it sends the stored grants
with the request and the compute host decides, under its lock, with the
device's rule (nova_usb.virt.manager).
"""

from nova_usb import conf as nova_usb_conf
from nova_usb.db import api as db_api
from nova_usb import exception
from nova_usb.policies import server_devices as device_policies
from nova_usb import policy

CONF = nova_usb_conf.CONF

ALL_PROJECTS = '*'
# The device's use (its rule's "use") that keeps it from the API.
FLAVOR_ONLY = 'flavor'
SOURCE_DEVICE_SPEC = 'device_spec'
SOURCE_GRANT = 'grant'


def stores_grants():
    """Whether nova-api has nova-usb's database to keep grants in."""
    return bool(CONF.usb_database.connection)


def stored(context, device_ids):
    """{device id: project ids of its stored grants}, for ``device_ids``;
    empty where nova-api keeps no grants.
    """
    if not stores_grants() or not device_ids:
        return {}
    return db_api.grants_for_devices(context, sorted(set(device_ids)))


def for_device(context, device_id, rule_projects=()):
    """The device's grants as the grants route lists them: ``[{project_id,
    source}]``, those of its rule (``rule_projects``, none when no host
    has the device now) first.
    """
    grants = [{'project_id': project_id, 'source': SOURCE_DEVICE_SPEC}
              for project_id in rule_projects]
    grants += [{'project_id': project_id, 'source': SOURCE_GRANT}
               for project_id in stored(context, [device_id]).get(
                   device_id, ())]
    return grants


def granted(device, stored_projects, project_id):
    """Whether the device (a records.HostDevice) may be attached through
    the API to a server of ``project_id``: not for flavors only, and
    granted to the project.
    """
    if device.use == FLAVOR_ONLY:
        return False
    return (ALL_PROJECTS in device.projects or
            project_id in device.projects or project_id in stored_projects)


def may_use_ungranted(context, instance):
    return policy.authorize(
        context, device_policies.POLICY_ROOT % 'attach:ungranted',
        {'project_id': instance.project_id}, fatal=False)


def usable(context, instance, devices):
    """Those of ``devices`` (records.HostDevice of the server's host) the
    caller may attach to the server through the API.
    """
    if may_use_ungranted(context, instance):
        return [d for d in devices if d.use != FLAVOR_ONLY]
    grants = stored(context, [d.id for d in devices])
    return [d for d in devices
            if granted(d, grants.get(d.id, ()), instance.project_id)]


def granted_projects(context, instance, device_id):
    """What an attach tells the compute host: None when the caller may
    attach any device, else the projects stored grants give the device to
    (the compute host, which knows the device's rule, decides under its
    lock, in the same call as the attach).
    """
    if may_use_ungranted(context, instance):
        return None
    return stored(context, [device_id]).get(device_id, [])


def check_grantable(device):
    """Refuse a grant of a device (a records.HostDevice) the API could
    never hand out.
    """
    if device.is_hub:
        reason = 'it is a hub, and hubs are never assignable'
    elif device.use == FLAVOR_ONLY:
        reason = ('its [usb] device_spec rule makes it for flavors only '
                  '("use": "flavor")')
    elif not device.assignable:
        reason = 'it is not assignable on its host (%s)' % device.reason
    else:
        return
    raise exception.UsbGrantRefused(device_id=device.id, reason=reason)
