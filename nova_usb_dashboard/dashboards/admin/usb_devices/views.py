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

from django.utils.translation import gettext_lazy as _
from horizon import exceptions
from horizon import messages
from horizon import tables
from openstack_dashboard import api

from nova_usb_dashboard.api import nova_usb
from nova_usb_dashboard.dashboards.admin.usb_devices import (
    tables as usb_tables)


class IndexView(tables.DataTableView):
    table_class = usb_tables.HostUsbDevicesTable
    template_name = 'admin/usb_devices/index.html'
    page_title = _('USB Devices')

    def _hosts(self):
        try:
            services = api.nova.service_list(self.request,
                                             binary='nova-compute')
        except Exception:
            exceptions.handle(self.request,
                              _('Unable to list the compute hosts.'))
            return []
        return sorted({service.host for service in services})

    def _server_names(self):
        try:
            servers, _more = api.nova.server_list(
                self.request, search_opts={'all_tenants': True})
        except Exception:
            exceptions.handle(self.request, _('Unable to list the servers.'))
            return {}
        return {server.id: server.name for server in servers}

    def get_data(self):
        hosts = self._hosts()
        wanted = self.get_filters().get('host')
        if wanted:
            hosts = [host for host in hosts if host == wanted]
        devices = []
        for host in hosts:
            try:
                devices.extend(nova_usb.host_devices(self.request, host))
            except nova_usb.ApiError as error:
                messages.error(self.request, '%s: %s' % (host, error.message))
        if any(getattr(device, 'server_id', None) for device in devices):
            names = self._server_names()
            for device in devices:
                device.server_name = names.get(
                    getattr(device, 'server_id', None))
        return devices
