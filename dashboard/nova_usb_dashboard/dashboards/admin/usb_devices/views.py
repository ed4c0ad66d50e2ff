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

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import exceptions
from horizon import forms
from horizon import messages
from horizon import tables
from horizon.utils import memoized
from openstack_dashboard import api

from nova_usb_dashboard.api import nova_usb
from nova_usb_dashboard.dashboards.admin.usb_devices import (
    forms as usb_forms)
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


class _DeviceMixin(object):
    """A view of one device of host ``host`` (its URL's)."""

    @memoized.memoized_method
    def get_device(self):
        """The device as its host describes it; None when it cannot say
        (the device is gone, the host is down): the grants route still
        lists the stored grants of a device gone from its host.
        """
        try:
            return nova_usb.host_device(self.request,
                                        self.kwargs['device_id'],
                                        host=self.kwargs['host'])
        except nova_usb.ApiError:
            return None

    def get_device_name(self):
        device = self.get_device()
        return device.name if device is not None else self.kwargs['device_id']


class GrantsView(_DeviceMixin, tables.DataTableView):
    """The projects a device is granted to: by [usb] device_spec and by
    stored grants.
    """

    table_class = usb_tables.DeviceGrantsTable
    template_name = 'admin/usb_devices/grants.html'
    page_title = _('Grants of USB Device {{ device_name }}')

    def _project_names(self):
        try:
            projects, _more = api.keystone.tenant_list(self.request)
        except Exception:
            exceptions.handle(self.request,
                              _('Unable to list the projects.'))
            return {}
        return {project.id: project.name for project in projects}

    def get_data(self):
        try:
            grants = nova_usb.device_grants(self.request,
                                            self.kwargs['device_id'])
        except nova_usb.ApiError as error:
            messages.error(self.request, error.message)
            return []
        if any(grant.project_id != nova_usb.ALL_PROJECTS
               for grant in grants):
            names = self._project_names()
            for grant in grants:
                grant.project_name = names.get(grant.project_id)
        return grants

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context['device'] = self.get_device()
        context['device_name'] = self.get_device_name()
        context['device_id'] = self.kwargs['device_id']
        context['host'] = self.kwargs['host']
        return context


class AddGrantView(_DeviceMixin, forms.ModalFormView):
    form_class = usb_forms.AddGrant
    form_id = 'add_usb_device_grant_form'
    modal_id = 'add_usb_device_grant_modal'
    modal_header = _('Grant USB Device to Project')
    submit_label = _('Grant')
    template_name = 'admin/usb_devices/add_grant.html'
    page_title = _('Grant USB Device to Project')

    def _grants_url(self):
        return usb_tables.grants_url(self.kwargs['host'],
                                     self.kwargs['device_id'])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context['device_name'] = self.get_device_name()
        context['host'] = self.kwargs['host']
        context['submit_url'] = reverse(
            'horizon:admin:usb_devices:add_grant',
            args=[self.kwargs['host'], self.kwargs['device_id']])
        context['cancel_url'] = self._grants_url()
        return context

    def get_success_url(self):
        return self._grants_url()

    def get_initial(self):
        return {'device_id': self.kwargs['device_id'],
                'device_name': self.get_device_name()}
