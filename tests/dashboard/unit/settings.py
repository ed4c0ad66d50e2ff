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

"""Horizon's test settings with nova-usb's plugin enabled, as an operator
enables it: its enabled/ files beside Horizon's own.
"""

import nova_usb_dashboard.enabled
from openstack_dashboard import enabled as _horizon_enabled

_horizon_enabled.__path__.extend(nova_usb_dashboard.enabled.__path__)

from openstack_dashboard.test.settings import *  # noqa: E402,F401,F403,H303

# Django's test runner would make the test database; under stestr an
# in-memory one (the plugin has no models).
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3',
                         'NAME': ':memory:'}}
