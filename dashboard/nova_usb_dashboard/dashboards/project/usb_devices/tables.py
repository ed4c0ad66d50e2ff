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

"""The tables of the instance's "USB Devices" tab.

Actions show only where nova-usb would accept them: the user's role
(nova-usb's policy, registered with Horizon as "nova_usb") and the
server's state (nova_usb.states: devices change while the server is
active, paused or stopped; controllers only while it is stopped; never
while a task runs). nova-usb decides in the end; its refusal is shown in
the form.
"""

from django import http
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import tables
from nova_usbclient import statuses

from nova_usb_dashboard.api import nova_usb

# Horizon's status of a server whose USB devices may change (vm_state
# active, paused, stopped) and whose controllers may (stopped).
DEVICE_CHANGE_STATUSES = ('ACTIVE', 'PAUSED', 'SHUTOFF')
CONTROLLER_CHANGE_STATUSES = ('SHUTOFF',)


def _instance(table):
    return table.kwargs['instance']


def _changeable(instance, statuses):
    return (instance.status in statuses and
            not getattr(instance, 'OS-EXT-STS:task_state', None))


class _ServerAction(tables.LinkAction):
    """A modal action on the tab's server; policy target: its project."""

    statuses = DEVICE_CHANGE_STATUSES
    classes = ('ajax-modal',)

    def get_policy_target(self, request, datum=None):
        return {'project_id': getattr(_instance(self.table), 'tenant_id',
                                      None)}

    def allowed(self, request, datum=None):
        return _changeable(_instance(self.table), self.statuses)


class AttachUsbDevice(_ServerAction):
    name = 'attach'
    verbose_name = _('Attach USB Device')
    url = 'horizon:project:usb_devices:attach'
    icon = 'link'
    policy_rules = (('nova_usb', 'nova_usb:server-devices:attach'),)

    def get_link_url(self, datum=None):
        return reverse(self.url, args=[_instance(self.table).id])


class DetachUsbDevice(_ServerAction):
    name = 'detach'
    verbose_name = _('Detach USB Device')
    url = 'horizon:project:usb_devices:detach'
    icon = 'unlink'
    classes = ('ajax-modal', 'btn-danger')
    policy_rules = (('nova_usb', 'nova_usb:server-devices:detach'),)

    def allowed(self, request, datum=None):
        return (super().allowed(request, datum) and
                (datum is None or datum.status != statuses.DETACHING))

    def get_link_url(self, datum):
        return reverse(self.url, args=[_instance(self.table).id, datum.id])


class AddUsbController(_ServerAction):
    name = 'add_controller'
    verbose_name = _('Add USB Controller')
    url = 'horizon:project:usb_devices:add_controller'
    icon = 'plus'
    statuses = CONTROLLER_CHANGE_STATUSES
    policy_rules = (('nova_usb', 'nova_usb:server-controllers:add'),)

    def get_link_url(self, datum=None):
        return reverse(self.url, args=[_instance(self.table).id])


class RemoveUsbController(_ServerAction):
    name = 'remove_controller'
    verbose_name = _('Remove USB Controller')
    url = 'horizon:project:usb_devices:remove_controller'
    icon = 'trash'
    classes = ('ajax-modal', 'btn-danger')
    statuses = CONTROLLER_CHANGE_STATUSES
    policy_rules = (('nova_usb', 'nova_usb:server-controllers:remove'),)

    def allowed(self, request, datum=None):
        return (super().allowed(request, datum) and
                (datum is None or getattr(datum, 'removable', False)))

    def get_link_url(self, datum):
        return reverse(self.url, args=[_instance(self.table).id, datum.id])


def _product(device):
    return '%s:%s' % (device.vendor_id, device.product_id)


class UsbDeviceRow(tables.Row):
    """A device's row, updated in place while it is ``detaching`` (a
    transitional status): Horizon asks the table's URL for the row again
    until the status is final, and drops the row when the device is gone
    (404).
    """

    ajax = True

    def get_data(self, request, device_id):
        try:
            return nova_usb.server_device(
                request, _instance(self.table).id, device_id)
        except nova_usb.NotFound:
            raise http.Http404()


class ServerUsbDevicesTable(tables.DataTable):
    # None: transitional, the row is updated until it is final.
    STATUS_CHOICES = ((statuses.ATTACHED, True), (statuses.MISSING, False),
                      (statuses.DETACHING, None))
    STATUS_DISPLAY_CHOICES = ((statuses.ATTACHED, _('Attached')),
                              (statuses.DETACHING, _('Detaching')),
                              (statuses.MISSING, _('Missing')))

    vendor = tables.Column('vendor_name', verbose_name=_('Vendor'))
    product = tables.Column('product_name', verbose_name=_('Product'))
    ids = tables.Column(_product, verbose_name=_('Vendor:Product ID'))
    serial = tables.Column('serial', verbose_name=_('Serial'))
    status = tables.Column('status', verbose_name=_('Status'),
                           status=True, status_choices=STATUS_CHOICES,
                           display_choices=STATUS_DISPLAY_CHOICES)
    controller_model = tables.Column('controller_model',
                                     verbose_name=_('Controller Model'))
    id = tables.Column('id', verbose_name=_('Device ID'))

    def get_object_display(self, datum):
        return datum.name

    def get_absolute_url(self):
        """Where row updates are asked: the instance detail page that
        shows the tab cannot answer them (Horizon's TabView), this view
        can.
        """
        return reverse('horizon:project:usb_devices:devices',
                       args=[_instance(self).id])

    class Meta(object):
        name = 'usb_devices'
        verbose_name = _('USB Devices')
        table_actions = (AttachUsbDevice,)
        row_actions = (DetachUsbDevice,)
        row_class = UsbDeviceRow
        status_columns = ['status']


class ServerUsbControllersTable(tables.DataTable):
    index = tables.Column('index', verbose_name=_('Index'))
    model = tables.Column('model', verbose_name=_('Model'))
    ports = tables.Column('ports', verbose_name=_('Ports'))
    used_ports = tables.Column('used_ports', verbose_name=_('Used Ports'))
    removable = tables.Column('removable', verbose_name=_('Removable'),
                              filters=(lambda value: _('Yes') if value
                                       else _('No'),))

    def get_object_display(self, datum):
        return '%s (%s)' % (datum.model, datum.index)

    class Meta(object):
        name = 'usb_controllers'
        verbose_name = _('USB Controllers')
        table_actions = (AddUsbController,)
        row_actions = (RemoveUsbController,)
