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

"""The USB devices of a server: its project reads them, its members change
them.
"""

from nova.policies import base
from oslo_policy import policy

POLICY_ROOT = 'nova_usb:server-devices:%s'

rules = [
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'list',
        check_str=base.PROJECT_READER_OR_ADMIN,
        description="List the USB devices attached to a server, each with "
                    "its status (attached, or missing from the host now); "
                    "with available=true, the assignable devices of the "
                    "server's host that no server holds.",
        operations=[
            {'method': 'GET', 'path': '/servers/{server_id}/os-usb-devices'},
            {'method': 'GET',
             'path': '/servers/{server_id}/os-usb-devices?available=true'},
        ],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'show',
        check_str=base.PROJECT_READER_OR_ADMIN,
        description="Show one USB device attached to a server.",
        operations=[{'method': 'GET',
                     'path': '/servers/{server_id}/os-usb-devices/'
                             '{device_id}'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'attach',
        check_str=base.PROJECT_MEMBER_OR_ADMIN,
        description="Attach a USB device of the server's host to a server "
                    "(live when it runs or is paused, recorded for its next "
                    "start when it is stopped).",
        operations=[{'method': 'POST',
                     'path': '/servers/{server_id}/os-usb-devices'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'detach',
        check_str=base.PROJECT_MEMBER_OR_ADMIN,
        description="Detach a USB device from a server.",
        operations=[{'method': 'DELETE',
                     'path': '/servers/{server_id}/os-usb-devices/'
                             '{device_id}'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'attach:ungranted',
        check_str=base.ADMIN,
        description="List as available, and attach, USB devices that are "
                    "not granted to the server's project (by their [usb] "
                    "device_spec rule or a stored grant). Without it a "
                    "caller sees and may attach only the devices granted "
                    "to the server's project; the others are as unknown.",
        operations=[
            {'method': 'GET',
             'path': '/servers/{server_id}/os-usb-devices?available=true'},
            {'method': 'POST',
             'path': '/servers/{server_id}/os-usb-devices'},
        ],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'show:host_details',
        check_str=base.ADMIN,
        description="See, in the server USB device routes, the compute "
                    "host name of each device and the server that holds "
                    "it. Without it these fields are left out, so a project "
                    "learns neither host names nor other projects' servers.",
        operations=[
            {'method': 'GET', 'path': '/servers/{server_id}/os-usb-devices'},
            {'method': 'GET',
             'path': '/servers/{server_id}/os-usb-devices/{device_id}'},
            {'method': 'POST',
             'path': '/servers/{server_id}/os-usb-devices'},
        ],
        scope_types=['project']),
]


def list_rules():
    return rules
