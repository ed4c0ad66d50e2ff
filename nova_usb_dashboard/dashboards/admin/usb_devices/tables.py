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

"""Every compute host's USB devices, as an operator looks for them: which
are assignable, why the others are not, and which server holds each.
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import tables


class HostFilter(tables.FilterAction):
    filter_type = 'server'
    filter_choices = (('host', _('Host ='), True),)


def _product(device):
    return '%s:%s' % (device.vendor_id, device.product_id)


def _assignable(device):
    return _('Yes') if device.assignable else _('No')


def _server(device):
    if not getattr(device, 'server_id', None):
        return '-'
    return getattr(device, 'server_name', None) or device.server_id


def _server_link(device):
    if not getattr(device, 'server_id', None):
        return None
    return reverse('horizon:admin:instances:detail',
                   args=[device.server_id])


class HostUsbDevicesTable(tables.DataTable):
    host = tables.Column('host', verbose_name=_('Host'))
    vendor = tables.Column('vendor_name', verbose_name=_('Vendor'))
    product = tables.Column('product_name', verbose_name=_('Product'))
    ids = tables.Column(_product, verbose_name=_('Vendor:Product ID'))
    serial = tables.Column('serial', verbose_name=_('Serial'))
    port_path = tables.Column('port_path', verbose_name=_('Port Path'))
    assignable = tables.Column(_assignable, verbose_name=_('Assignable'))
    reason = tables.Column('reason', verbose_name=_('Reason'))
    server = tables.Column(_server, verbose_name=_('Server'),
                           link=_server_link)
    id = tables.Column('id', verbose_name=_('Device ID'))

    def get_object_id(self, datum):
        return '%s/%s' % (datum.host, datum.id)

    def get_object_display(self, datum):
        return datum.name

    class Meta(object):
        name = 'host_usb_devices'
        verbose_name = _('USB Devices')
        table_actions = (HostFilter,)
        multi_select = False
