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

"""Nova's compute API router with nova-usb's routes added.

Named in api-paste.ini as the ``osapi_compute_app_v21`` application, it
serves all of Nova's API plus nova-usb's, in Nova's own URL space
(``/v2.1/...``) and behind Nova's own pipeline: keystone authentication,
request ids, fault wrapping, microversions and request validation.
"""

import functools

from nova.api.openstack.compute import routes
from nova.api.openstack import wsgi
import webob

from nova_usb.api import device_grants
from nova_usb.api import host_devices
from nova_usb.api import servers


class UsbResource(wsgi.Resource):
    """Nova's Resource, refusing request bodies that are not UTF-8 (JSON
    is UTF-8) with a 400.

    Nova's own Resource decodes the body as UTF-8 to log it before it
    parses it, so other bytes would make a 500.
    """

    def _process_stack(self, request, action, action_args, content_type,
                       body, accept):
        if body:
            try:
                body.decode('utf-8')
            except UnicodeDecodeError:
                return wsgi.Fault(webob.exc.HTTPBadRequest(
                    explanation='Malformed request body: it is not UTF-8 '
                                'encoded JSON.'))
        return super()._process_stack(request, action, action_args,
                                      content_type, body, accept)


def _resource(controller_class):
    return UsbResource(controller_class())


_host_devices = functools.partial(_resource,
                                  host_devices.HostUsbDevicesController)
_device_grants = functools.partial(_resource,
                                   device_grants.UsbDeviceGrantsController)
_server_devices = functools.partial(_resource,
                                    servers.ServerUsbDevicesController)
_server_controllers = functools.partial(
    _resource, servers.ServerUsbControllersController)

ROUTES = (
    ('/os-usb-devices', {
        'GET': [_host_devices, 'index'],
    }),
    ('/os-usb-devices/{id}', {
        'GET': [_host_devices, 'show'],
    }),
    ('/os-usb-devices/{device_id}/grants', {
        'GET': [_device_grants, 'index'],
    }),
    ('/os-usb-devices/{device_id}/grants/{id}', {
        'PUT': [_device_grants, 'update'],
        'DELETE': [_device_grants, 'delete'],
    }),
    ('/servers/{server_id}/os-usb-devices', {
        'GET': [_server_devices, 'index'],
        'POST': [_server_devices, 'create'],
    }),
    ('/servers/{server_id}/os-usb-devices/{id}', {
        'GET': [_server_devices, 'show'],
        'DELETE': [_server_devices, 'delete'],
    }),
    ('/servers/{server_id}/os-usb-controllers', {
        'GET': [_server_controllers, 'index'],
        'POST': [_server_controllers, 'create'],
    }),
    ('/servers/{server_id}/os-usb-controllers/{id}', {
        'DELETE': [_server_controllers, 'delete'],
    }),
)


class UsbAPIRouter(routes.APIRouterV21):
    """paste.app_factory = nova_usb.api.router:UsbAPIRouter.factory"""

    def __init__(self, custom_routes=None):
        super().__init__(custom_routes=ROUTES + tuple(custom_routes or ()))
