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
are assignable, why the others are not, and which server holds each; and
the projects each device is granted to.
"""

import sys

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import exceptions
from horizon import messages
from horizon import tables

from nova_usb_dashboard.api import nova_usb

# The device's [usb] device_spec rule's "use"; none when no rule selects
# the device.
USE_DISPLAY_CHOICES = (('any', _('API and flavors')),
                       ('api', _('API only')),
                       ('flavor', _('Flavors only')))
SOURCE_DISPLAY_CHOICES = (
    (nova_usb.SOURCE_DEVICE_SPEC, _('from [usb] device_spec')),
    (nova_usb.SOURCE_GRANT, _('Grant')))


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


def grants_url(host, device_id):
    return reverse('horizon:admin:usb_devices:grants', args=[host, device_id])


class ManageGrants(tables.LinkAction):
    """The device's grants page; not for hubs, which are never granted."""

    name = 'grants'
    verbose_name = _('Manage Grants')
    icon = 'key'
    policy_rules = (('nova_usb', 'nova_usb:device-grants:list'),)

    def allowed(self, request, datum=None):
        return datum is not None and not getattr(datum, 'is_hub', False)

    def get_link_url(self, datum):
        return grants_url(datum.host, datum.id)


class HostUsbDevicesTable(tables.DataTable):
    host = tables.Column('host', verbose_name=_('Host'))
    vendor = tables.Column('vendor_name', verbose_name=_('Vendor'))
    product = tables.Column('product_name', verbose_name=_('Product'))
    ids = tables.Column(_product, verbose_name=_('Vendor:Product ID'))
    serial = tables.Column('serial', verbose_name=_('Serial'))
    port_path = tables.Column('port_path', verbose_name=_('Port Path'))
    assignable = tables.Column(_assignable, verbose_name=_('Assignable'))
    reason = tables.Column('reason', verbose_name=_('Reason'))
    use = tables.Column('use', verbose_name=_('Use'),
                        display_choices=USE_DISPLAY_CHOICES,
                        help_text=_('How the device\'s [usb] device_spec '
                                    'rule lets servers have it: attached '
                                    'through the API, asked for by a '
                                    'flavor, or both.'))
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
        row_actions = (ManageGrants,)
        multi_select = False


def _grants_kwargs(table):
    return table.kwargs['host'], table.kwargs['device_id']


def _project(grant):
    if grant.project_id == nova_usb.ALL_PROJECTS:
        return _('Every project')
    return grant.project_name or '-'


class AddGrant(tables.LinkAction):
    name = 'add'
    verbose_name = _('Grant to Project')
    url = 'horizon:admin:usb_devices:add_grant'
    classes = ('ajax-modal',)
    icon = 'plus'
    policy_rules = (('nova_usb', 'nova_usb:device-grants:create'),)

    def get_link_url(self, datum=None):
        return reverse(self.url, args=_grants_kwargs(self.table))


class RemoveGrant(tables.DeleteAction):
    """Removes a stored grant; those of [usb] device_spec stay."""

    help_text = _('The project\'s members can no longer attach the device, '
                  'and the project\'s server that got it through the API '
                  'loses it now, unless [usb] device_spec grants it to the '
                  'project too.')
    policy_rules = (('nova_usb', 'nova_usb:device-grants:delete'),)

    @staticmethod
    def action_present(count):
        return ngettext_lazy('Remove Grant', 'Remove Grants', count)

    @staticmethod
    def action_past(count):
        return ngettext_lazy('Removed Grant', 'Removed Grants', count)

    def allowed(self, request, datum=None):
        return datum is not None and datum.removable

    def delete(self, request, obj_id):
        _source, _sep, project_id = obj_id.partition('/')
        _host, device_id = _grants_kwargs(self.table)
        try:
            nova_usb.revoke_device_grant(request, device_id, project_id)
        except nova_usb.ApiError as error:
            # nova-usb's own message (the server could not be detached
            # now...), not Horizon's generic "Unable to remove".
            messages.error(request, error.message)
            raise exceptions.HandledException(sys.exc_info())


class DeviceGrantsTable(tables.DataTable):
    project = tables.Column(_project, verbose_name=_('Project'))
    project_id = tables.Column('project_id', verbose_name=_('Project ID'))
    source = tables.Column('source', verbose_name=_('Source'),
                           display_choices=SOURCE_DISPLAY_CHOICES)

    def get_object_display(self, datum):
        return datum.project_name or datum.project_id

    class Meta(object):
        name = 'device_grants'
        verbose_name = _('Grants')
        table_actions = (AddGrant,)
        row_actions = (RemoveGrant,)
        multi_select = False
