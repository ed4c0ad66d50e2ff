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

"""Grants of single USB devices to projects: operators only, since a grant
names a device (and its host's rule) and a project.
"""

from nova.policies import base
from oslo_policy import policy

POLICY_ROOT = 'nova_usb:device-grants:%s'

rules = [
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'list',
        check_str=base.ADMIN,
        description="List the projects a USB device is granted to, by its "
                    "[usb] device_spec rule and by stored grants.",
        operations=[{'method': 'GET',
                     'path': '/os-usb-devices/{device_id}/grants'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'create',
        check_str=base.ADMIN,
        description="Grant a USB device to a project: its members may then "
                    "attach it to their servers on the device's host.",
        operations=[{'method': 'PUT',
                     'path': '/os-usb-devices/{device_id}/grants/'
                             '{project_id}'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'delete',
        check_str=base.ADMIN,
        description="Remove a project's grant of a USB device.",
        operations=[{'method': 'DELETE',
                     'path': '/os-usb-devices/{device_id}/grants/'
                             '{project_id}'}],
        scope_types=['project']),
]


def list_rules():
    return rules
