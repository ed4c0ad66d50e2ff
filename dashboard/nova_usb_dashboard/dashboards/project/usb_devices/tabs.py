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

"""The "USB Devices" tab of Project -> Compute -> Instances -> detail.

Added to Horizon's InstanceDetailTabs through the plugin's enabled file
(EXTRA_TABS).
"""

from django.utils.translation import gettext_lazy as _
from horizon import messages
from horizon import tabs

from nova_usb_dashboard.api import nova_usb
from nova_usb_dashboard.dashboards.project.usb_devices import tables


class UsbDevicesTab(tabs.TableTab):
    name = _('USB Devices')
    slug = 'usb_devices'
    table_classes = (tables.ServerUsbDevicesTable,
                     tables.ServerUsbControllersTable)
    template_name = 'project/usb_devices/_tab.html'
    preload = False
    policy_rules = (('nova_usb', 'nova_usb:server-devices:list'),)

    def _instance_id(self):
        return self.tab_group.kwargs['instance'].id

    def get_usb_devices_data(self):
        try:
            return nova_usb.server_devices(self.request, self._instance_id())
        except nova_usb.ApiError as error:
            messages.error(self.request, error.message)
            return []

    def get_usb_controllers_data(self):
        try:
            return nova_usb.controllers(self.request, self._instance_id())
        except nova_usb.ApiError as error:
            messages.error(self.request, error.message)
            return []
