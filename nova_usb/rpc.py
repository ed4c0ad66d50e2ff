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

"""RPC between nova-api and the nova-usb driver of a compute host.

nova-compute serves it on a topic of its own (TOPIC, one server per compute
host), on the cell's message queue, with Nova's object serializer. Errors
raised on the compute host travel back as what they are: nova-usb's
exceptions are rebuilt from oslo.messaging's RemoteError here, whatever
exception modules the API's transport allows.
"""

import functools

from nova import objects  # noqa: F401  (registers the objects we send)
from nova.objects import base as objects_base
from nova import rpc
import oslo_messaging as messaging

from nova_usb import exception

TOPIC = 'nova-usb'
NAMESPACE = 'nova_usb'
VERSION = '1.0'


def _reraise_usb_errors(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except messaging.RemoteError as e:
            error_class = getattr(exception, e.exc_type or '', None)
            if (isinstance(error_class, type) and
                    issubclass(error_class, exception.NovaUsbException)):
                raise error_class(message=e.value)
            raise
    return wrapper


class UsbComputeAPI(object):
    """Client side, used by nova-api.

    API version history:

    * 1.0 - list_host_devices, list_server_devices, attach_device,
      detach_device, list_controllers, add_controller, remove_controller
    """

    def __init__(self):
        target = messaging.Target(topic=TOPIC, namespace=NAMESPACE,
                                  version=VERSION)
        serializer = objects_base.NovaObjectSerializer()
        self.router = rpc.ClientRouter(rpc.get_client(
            target, version_cap=VERSION, serializer=serializer))

    def _client(self, context, host, timeout=None):
        if timeout is not None:
            return self.router.client(context).prepare(server=host,
                                                       timeout=timeout)
        return self.router.client(context).prepare(server=host)

    @_reraise_usb_errors
    def list_host_devices(self, context, host, timeout=None):
        """``timeout``: seconds to wait instead of [DEFAULT]
        rpc_response_timeout (nova-api asks many hosts at once when it
        looks for a device).
        """
        return self._client(context, host, timeout).call(
            context, 'list_host_devices')

    @_reraise_usb_errors
    def list_server_devices(self, context, instance):
        return self._client(context, instance.host).call(
            context, 'list_server_devices', instance=instance)

    @_reraise_usb_errors
    def attach_device(self, context, instance, device_id,
                      controller_model=None):
        return self._client(context, instance.host).call(
            context, 'attach_device', instance=instance,
            device_id=device_id, controller_model=controller_model)

    @_reraise_usb_errors
    def detach_device(self, context, instance, device_id):
        return self._client(context, instance.host).call(
            context, 'detach_device', instance=instance,
            device_id=device_id)

    @_reraise_usb_errors
    def list_controllers(self, context, instance):
        return self._client(context, instance.host).call(
            context, 'list_controllers', instance=instance)

    @_reraise_usb_errors
    def add_controller(self, context, instance, model, ports=None):
        return self._client(context, instance.host).call(
            context, 'add_controller', instance=instance, model=model,
            ports=ports)

    @_reraise_usb_errors
    def remove_controller(self, context, instance, index):
        return self._client(context, instance.host).call(
            context, 'remove_controller', instance=instance, index=index)


class UsbComputeEndpoint(object):
    """Server side, served by nova-compute; each call goes to the host's
    UsbManager.
    """

    target = messaging.Target(namespace=NAMESPACE, version=VERSION)

    def __init__(self, manager):
        self.manager = manager

    def list_host_devices(self, context):
        return self.manager.list_host_devices(context)

    def list_server_devices(self, context, instance):
        return self.manager.list_server_devices(context, instance)

    def attach_device(self, context, instance, device_id,
                      controller_model=None):
        return self.manager.attach_device(context, instance, device_id,
                                          controller_model)

    def detach_device(self, context, instance, device_id):
        return self.manager.detach_device(context, instance, device_id)

    def list_controllers(self, context, instance):
        return self.manager.list_controllers(context, instance)

    def add_controller(self, context, instance, model, ports=None):
        return self.manager.add_controller(context, instance, model, ports)

    def remove_controller(self, context, instance, index):
        return self.manager.remove_controller(context, instance, index)


def get_server(host, manager):
    target = messaging.Target(topic=TOPIC, server=host)
    return rpc.get_server(target, [UsbComputeEndpoint(manager)],
                          objects_base.NovaObjectSerializer())
