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

"""``/os-usb-devices``: the USB devices of compute hosts, for operators.

Answers come fresh from the host over RPC (the host is the one authority on
its devices and their holders); nothing is cached in nova-api.
"""

from nova.api.openstack import wsgi
from nova.api import validation

from nova_usb.api import errors
from nova_usb.api import hosts
from nova_usb.api import schemas
from nova_usb.api import views
from nova_usb import exception
from nova_usb.policies import host_devices as policies
from nova_usb import policy
from nova_usb import rpc as usb_rpc


@validation.validated
class HostUsbDevicesController(wsgi.Controller):

    def __init__(self):
        super().__init__()
        self.usb_rpc = usb_rpc.UsbComputeAPI()
        self.hosts = hosts.ComputeHosts(self.usb_rpc)

    @wsgi.expected_errors(errors.EXPECTED)
    @validation.query_schema(schemas.host_devices_query)
    @validation.response_body_schema(schemas.host_devices_response)
    def index(self, req):
        """GET /os-usb-devices?host=H"""
        context = req.environ['nova.context']
        policy.authorize(context, policies.POLICY_ROOT % 'list', {})
        host = req.GET['host']
        return {'usb_devices': [views.host_device(d)
                                for d in self._devices(context, host)]}

    @wsgi.expected_errors(errors.EXPECTED)
    @validation.query_schema(schemas.host_device_query)
    @validation.response_body_schema(schemas.host_device_response)
    def show(self, req, id):
        """GET /os-usb-devices/{device_id}[?host=H]

        Without ``host``, every compute host that is up is asked (see
        nova_usb.api.hosts); a ``device_id`` nova-usb never issues is a 404
        at once.
        """
        context = req.environ['nova.context']
        policy.authorize(context, policies.POLICY_ROOT % 'show', {})
        if not schemas.is_path_device_id(req, id):
            # Names no device: no compute host is asked.
            raise errors.http_error(404, exception.UsbDeviceIdMalformed(
                device_id=views.shown_id(id)).format_message())
        host = req.GET.get('host')
        if host is not None:
            device = next((d for d in self._devices(context, host)
                           if d.id == id), None)
            if device is None:
                raise errors.http_error(404, exception.UsbDeviceNotFound(
                    device_id=id, host=host).format_message())
        else:
            with errors.translated('the compute hosts'):
                found = self.hosts.find_device(context, id)
            if found is None:
                raise errors.http_error(404, exception.UsbDeviceUnknown(
                    device_id=id).format_message())
            device = found[1]
        return {'usb_device': views.host_device(device)}

    def _devices(self, context, host):
        with errors.translated('host %s' % host):
            host_context = self.hosts.target(context, host)
            return self.usb_rpc.list_host_devices(host_context, host)
