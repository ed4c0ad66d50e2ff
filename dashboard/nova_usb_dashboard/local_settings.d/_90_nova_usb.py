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

# nova-usb's policy for Horizon: copy this file into Horizon's
# openstack_dashboard/local/local_settings.d/ (it runs inside Horizon's
# settings). The plugin then shows each USB action only to whom nova-api
# allows it. Overrides go into the POLICY_FILES file named here, or into
# files of a POLICY_DIRS['nova_usb'] directory.

from nova_usb_dashboard import conf as _nova_usb_conf  # noqa: E402

POLICY_FILES[_nova_usb_conf.SERVICE] = _nova_usb_conf.POLICY_FILE  # noqa
DEFAULT_POLICY_FILES[_nova_usb_conf.SERVICE] = (  # noqa
    _nova_usb_conf.DEFAULT_POLICY_FILE)
