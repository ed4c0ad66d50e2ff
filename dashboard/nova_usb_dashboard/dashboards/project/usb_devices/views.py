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

"""The modal forms of the instance's USB actions; each returns to the
instance's "USB Devices" tab. And the devices table's own view, which
answers Horizon's row updates.
"""

from django import shortcuts
from django.urls import reverse
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from horizon import exceptions
from horizon import forms
from horizon import tables
from horizon.utils import memoized
from openstack_dashboard import api

from nova_usb_dashboard.api import nova_usb
from nova_usb_dashboard.dashboards.project.usb_devices import (
    forms as usb_forms)
from nova_usb_dashboard.dashboards.project.usb_devices import (
    tables as usb_tables)

TAB = 'instance_details__usb_devices'
INDEX_URL = reverse_lazy('horizon:project:instances:index')


def tab_url(instance_id):
    """The instance detail page, on its USB Devices tab."""
    return '%s?tab=%s' % (reverse('horizon:project:instances:detail',
                                  args=[instance_id]), TAB)


class _ServerFormView(forms.ModalFormView):
    submit_url_name = None

    @memoized.memoized_method
    def get_instance(self):
        try:
            return api.nova.server_get(self.request,
                                       self.kwargs['instance_id'])
        except Exception:
            exceptions.handle(self.request, _('Unable to find the server.'),
                              redirect=INDEX_URL)

    def _url_args(self):
        return [self.kwargs['instance_id']]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context['instance'] = self.get_instance()
        context['submit_url'] = reverse(self.submit_url_name,
                                        args=self._url_args())
        context['cancel_url'] = tab_url(self.kwargs['instance_id'])
        return context

    def get_success_url(self):
        return tab_url(self.kwargs['instance_id'])

    def get_initial(self):
        return {'instance_id': self.kwargs['instance_id']}


class AttachView(_ServerFormView):
    form_class = usb_forms.AttachUsbDevice
    form_id = 'attach_usb_device_form'
    modal_id = 'attach_usb_device_modal'
    modal_header = _('Attach USB Device')
    submit_label = _('Attach USB Device')
    template_name = 'project/usb_devices/attach.html'
    submit_url_name = 'horizon:project:usb_devices:attach'
    page_title = _('Attach USB Device')

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        # Also on POST: a refused form is shown again with what is
        # available now.
        try:
            kwargs['devices'] = nova_usb.available_devices(
                self.request, self.kwargs['instance_id'])
        except nova_usb.ApiError as error:
            exceptions.handle(self.request, error.message,
                              redirect=tab_url(self.kwargs['instance_id']))
        return kwargs


class DetachView(_ServerFormView):
    form_class = usb_forms.DetachUsbDevice
    form_id = 'detach_usb_device_form'
    modal_id = 'detach_usb_device_modal'
    modal_header = _('Detach USB Device')
    submit_label = _('Detach USB Device')
    template_name = 'project/usb_devices/detach.html'
    submit_url_name = 'horizon:project:usb_devices:detach'
    page_title = _('Detach USB Device')

    def _url_args(self):
        return [self.kwargs['instance_id'], self.kwargs['device_id']]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context['device_id'] = self.kwargs['device_id']
        return context

    def get_initial(self):
        return dict(super().get_initial(),
                    device_id=self.kwargs['device_id'])


class AddControllerView(_ServerFormView):
    form_class = usb_forms.AddUsbController
    form_id = 'add_usb_controller_form'
    modal_id = 'add_usb_controller_modal'
    modal_header = _('Add USB Controller')
    submit_label = _('Add USB Controller')
    template_name = 'project/usb_devices/add_controller.html'
    submit_url_name = 'horizon:project:usb_devices:add_controller'
    page_title = _('Add USB Controller')


class RemoveControllerView(_ServerFormView):
    form_class = usb_forms.RemoveUsbController
    form_id = 'remove_usb_controller_form'
    modal_id = 'remove_usb_controller_modal'
    modal_header = _('Remove USB Controller')
    submit_label = _('Remove USB Controller')
    template_name = 'project/usb_devices/remove_controller.html'
    submit_url_name = 'horizon:project:usb_devices:remove_controller'
    page_title = _('Remove USB Controller')

    def _url_args(self):
        return [self.kwargs['instance_id'], self.kwargs['index']]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context['index'] = self.kwargs['index']
        return context

    def get_initial(self):
        return dict(super().get_initial(), index=self.kwargs['index'])


class DevicesView(tables.DataTableView):
    """The server's devices table: Horizon asks it for a row again while
    the device is ``detaching`` (``?action=row_update``). A page is the
    instance's USB tab, where a plain GET is sent.
    """

    table_class = usb_tables.ServerUsbDevicesTable

    def get_table(self):
        if not hasattr(self, 'table'):
            try:
                instance = api.nova.server_get(self.request,
                                               self.kwargs['instance_id'])
            except Exception:
                exceptions.handle(self.request,
                                  _('Unable to find the server.'),
                                  redirect=INDEX_URL)
            self.table = self.table_class(self.request, instance=instance)
        return self.table

    def get_data(self):
        return nova_usb.server_devices(self.request,
                                       self.kwargs['instance_id'])

    def get(self, request, *args, **kwargs):
        if request.GET.get('action'):
            handled = self.construct_tables()
            if handled:
                return handled
        return shortcuts.redirect(tab_url(self.kwargs['instance_id']))
