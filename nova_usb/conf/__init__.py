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

"""nova-usb options, registered on Nova's own configuration object.

nova-compute and nova-api read nova-usb options from the same files as the
rest of Nova (nova.conf), so they are registered on nova.conf.CONF.
"""

import nova.conf

from nova_usb.conf import usb
from nova_usb.conf import usb_database

CONF = nova.conf.CONF

usb.register_opts(CONF)
usb_database.register_opts(CONF)
