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

"""nova-usb's policy for Horizon, in Horizon's layout.

default_policies/nova_usb.yaml holds nova-usb's rules with their
defaults, and the Nova base rules they refer to (context_is_admin,
project_member_or_admin...), as Horizon's DEFAULT_POLICY_FILES expects
(the format of manage.py dump_default_policies); it is made from
nova-usb's code by python -m tests.dashboard.policies, in the repository,
and a unit test keeps it equal (the plugin itself imports nothing of
nova-usb or Nova). nova_usb_policy.yaml is where an operator overrides them: it
should say what nova-api's policy file says.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
POLICY_FILE = os.path.join(HERE, 'nova_usb_policy.yaml')
DEFAULT_POLICY_FILE = os.path.join(HERE, 'default_policies', 'nova_usb.yaml')
# The service name of the plugin's policy checks (Horizon's POLICY_FILES
# key).
SERVICE = 'nova_usb'
