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

import unittest

import yaml

from nova_usb_dashboard import conf
from tests.dashboard import policies


class PolicyFileTests(unittest.TestCase):

    def test_default_policies_file_matches_the_code(self):
        with open(conf.DEFAULT_POLICY_FILE) as source:
            shipped = yaml.safe_load(source)
        self.assertEqual(policies.default_policies(), shipped,
                         'run python -m tests.dashboard.policies')
