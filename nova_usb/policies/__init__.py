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

"""nova-usb's policy rules, with secure-RBAC defaults.

They are enforced by nova-usb's own enforcer (nova_usb.policy), which reads
the same policy file as Nova ([oslo_policy] policy_file) and knows Nova's
base rules (context_is_admin, project_reader_or_admin, ...), so an operator
overrides both in one place and the defaults read exactly like Nova's.
"""

import itertools

from nova_usb.policies import device_grants
from nova_usb.policies import host_devices
from nova_usb.policies import server_controllers
from nova_usb.policies import server_devices


def list_rules():
    """nova-usb's rules (entry point ``oslo.policy.policies``)."""
    return itertools.chain(
        host_devices.list_rules(),
        device_grants.list_rules(),
        server_devices.list_rules(),
        server_controllers.list_rules(),
    )
