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

"""The USB controllers of a server: its project reads them, its members
add and remove them.
"""

from nova.policies import base
from oslo_policy import policy

POLICY_ROOT = 'nova_usb:server-controllers:%s'

rules = [
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'list',
        check_str=base.PROJECT_READER_OR_ADMIN,
        description="List the USB controllers of a server with their ports "
                    "and how many are used.",
        operations=[{'method': 'GET',
                     'path': '/servers/{server_id}/os-usb-controllers'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'add',
        check_str=base.PROJECT_MEMBER_OR_ADMIN,
        description="Add a USB controller to a stopped server.",
        operations=[{'method': 'POST',
                     'path': '/servers/{server_id}/os-usb-controllers'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'remove',
        check_str=base.PROJECT_MEMBER_OR_ADMIN,
        description="Remove a USB controller added through nova-usb from a "
                    "stopped server.",
        operations=[{'method': 'DELETE',
                     'path': '/servers/{server_id}/os-usb-controllers/'
                             '{index}'}],
        scope_types=['project']),
]


def list_rules():
    return rules
