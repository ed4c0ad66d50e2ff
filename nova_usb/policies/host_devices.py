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

"""The USB devices of a compute host: operators only, since they name hosts
and show every project's holders.
"""

from nova.policies import base
from oslo_policy import policy

POLICY_ROOT = 'nova_usb:host-devices:%s'

rules = [
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'list',
        check_str=base.ADMIN,
        description="List the USB devices of a compute host, each with "
                    "whether it is assignable (and why not) and which "
                    "server holds it.",
        operations=[{'method': 'GET', 'path': '/os-usb-devices?host={host}'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'show',
        check_str=base.ADMIN,
        description="Show one USB device of a compute host.",
        operations=[{'method': 'GET', 'path': '/os-usb-devices/{device_id}'}],
        scope_types=['project']),
]


def list_rules():
    return rules
