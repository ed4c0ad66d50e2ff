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

"""The plugin's views and forms on Horizon's own test helpers
(openstack_dashboard.test.helpers): Django's test client, a logged-in
fake user, the APIs mocked at the plugin's and Horizon's API modules.
"""

import os

os.environ.setdefault('DJANGO_SETTINGS_MODULE',
                      'tests.dashboard.unit.settings')

import django  # noqa: E402
from django.test import utils  # noqa: E402

django.setup()
# What Django's test runner does first (test host name, in-memory mail).
utils.setup_test_environment()
