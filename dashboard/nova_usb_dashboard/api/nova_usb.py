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

"""nova-usb for the dashboard: nova_usbclient on the user's token.

The dashboard reaches Nova as the logged-in user, with the token keystone
gave at login and the compute endpoint of the user's catalog and region,
as Horizon's own Nova calls do; the TLS settings are Horizon's
(OPENSTACK_SSL_NO_VERIFY, OPENSTACK_SSL_CACERT).
"""

from django.conf import settings
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from nova_usbclient import api as usb_api
from openstack_dashboard.api import base

# Re-exported so that views catch nova-usb's refusals by one name.
ApiError = usb_api.ApiError
BadRequest = usb_api.BadRequest
Conflict = usb_api.Conflict
NotFound = usb_api.NotFound
Forbidden = usb_api.Forbidden

# Where a project's grant of a device comes from (the grants route's
# "source"): the device's [usb] device_spec rule, changed in nova.conf on
# its compute host, or a grant stored through the API, which an admin may
# remove. A rule's "projects": "*" is listed as this project id.
SOURCE_DEVICE_SPEC = 'device_spec'
SOURCE_GRANT = 'grant'
ALL_PROJECTS = '*'


def client(request):
    """A nova-usb client acting as the request's user."""
    endpoint = base.url_for(request, 'compute')
    verify = (False if getattr(settings, 'OPENSTACK_SSL_NO_VERIFY', False)
              else getattr(settings, 'OPENSTACK_SSL_CACERT', None) or True)
    session = ks_session.Session(
        auth=token_endpoint.Token(endpoint, request.user.token.id),
        verify=verify)
    return usb_api.Client(session, endpoint_override=endpoint,
                          region_name=request.user.services_region,
                          client_name='horizon')


class UsbDevice(object):
    """A device as nova-usb gives it, with attribute access for tables."""

    def __init__(self, fields):
        self._fields = dict(fields)
        self.__dict__.update(fields)

    @property
    def name(self):
        parts = [self._fields.get('vendor_name'),
                 self._fields.get('product_name')]
        return ' '.join(p for p in parts if p) or '%s:%s' % (
            self._fields.get('vendor_id'), self._fields.get('product_id'))

    def to_dict(self):
        return dict(self._fields)


class UsbDeviceGrant(object):
    """A project's grant of a device, as nova-usb lists it."""

    def __init__(self, fields):
        self.project_id = fields['project_id']
        self.source = fields['source']
        # The project's name in keystone, when the view looked it up.
        self.project_name = None

    @property
    def id(self):
        # A project may have the device both from the rule and from a
        # stored grant: two rows.
        return '%s/%s' % (self.source, self.project_id)

    @property
    def removable(self):
        """Only stored grants: a rule's are changed in nova.conf."""
        return self.source == SOURCE_GRANT


class UsbController(UsbDevice):

    @property
    def id(self):
        return str(self._fields.get('index'))


def server_devices(request, server_id):
    return [UsbDevice(d)
            for d in client(request).list_server_devices(server_id)]


def server_device(request, server_id, device_id):
    return UsbDevice(client(request).get_server_device(server_id, device_id))


def available_devices(request, server_id):
    return [UsbDevice(d)
            for d in client(request).list_available_devices(server_id)]


def attach_device(request, server_id, device_id, controller_model=None):
    return UsbDevice(client(request).attach_device(
        server_id, device_id, controller_model=controller_model or None))


def detach_device(request, server_id, device_id):
    client(request).detach_device(server_id, device_id)


def controllers(request, server_id):
    return [UsbController(c)
            for c in client(request).list_controllers(server_id)]


def add_controller(request, server_id, model, ports=None):
    return UsbController(client(request).add_controller(
        server_id, model, ports=ports))


def remove_controller(request, server_id, index):
    client(request).remove_controller(server_id, index)


def host_devices(request, host):
    devices = []
    for fields in client(request).list_host_devices(host):
        fields.setdefault('host', host)
        devices.append(UsbDevice(fields))
    return devices


def host_device(request, device_id, host=None):
    return UsbDevice(client(request).get_host_device(device_id, host=host))


def device_grants(request, device_id):
    return [UsbDeviceGrant(g)
            for g in client(request).list_device_grants(device_id)]


def grant_device(request, device_id, project_id):
    return UsbDeviceGrant(client(request).grant_device(device_id,
                                                       project_id))


def revoke_device_grant(request, device_id, project_id):
    client(request).revoke_device_grant(device_id, project_id)
