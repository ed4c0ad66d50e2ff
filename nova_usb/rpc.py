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
exception modules the API's transport allows, and the endpoint declares
them expected, so nova-compute logs a refusal as what it is, not as an
error with a traceback.

No nova-api request waits longer than [DEFAULT] rpc_response_timeout:

* A detach is accepted, not waited for (start_detach): the compute host
  checks what it can tell at once and answers; it detaches in the
  background, and the server action and notifications tell the outcome
  (nova_usb.actions).
* The other changes (attach, controller add or remove) are calls bounded
  by rpc_response_timeout, and carry a deadline SAVE_MARGIN seconds
  before that wait ends: the compute host neither starts nor saves a
  change after the deadline, which leaves nova-api, when no answer came in
  time, the time to read what was saved. So nova-api never reports a
  failure for a change that is then made (as long as a save through
  conductor takes less than SAVE_MARGIN), nor a success for one that is
  not.

Answers are typed, versioned records (nova_usb.records), sent as their
primitives, which say which record and which version they are. So that a
newer nova-api can ask a compute host that is not upgraded yet, each call
goes out at the oldest API version that carries its arguments, and the
plain dicts such a host answers with are read into the same records.
"""

import functools
import time

from nova import exception as nova_exception
from nova import objects  # noqa: F401  (registers the objects we send)
from nova.objects import base as objects_base
from nova import rpc
from nova_usbclient import statuses
import oslo_messaging as messaging

from nova_usb import conf as nova_usb_conf
from nova_usb.db import server_requests
from nova_usb import exception
from nova_usb import records
from nova_usb.virt import controllers

CONF = nova_usb_conf.CONF
TOPIC = 'nova-usb'
NAMESPACE = 'nova_usb'
VERSION = '1.4'
# Between the deadline a compute host is given and the end of nova-api's
# wait: a save the compute host starts just before the deadline goes
# through conductor (it takes milliseconds), and its answer comes back.
SAVE_MARGIN = 10

EXPECTED_ERRORS = (exception.NovaUsbException,
                   nova_exception.InstanceNotFound)


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


def _is_unsupported_version(error):
    """Whether a compute host refused a call as newer than its API (as a
    RemoteError on a real message queue, as itself on the fake one).
    """
    if isinstance(error, messaging.RemoteError):
        return error.exc_type == 'UnsupportedVersion'
    return isinstance(error, messaging.UnsupportedVersion)


class UsbComputeAPI(object):
    """Client side, used by nova-api.

    API version history:

    * 1.0 - list_host_devices, list_server_devices, attach_device,
      detach_device, list_controllers, add_controller, remove_controller
    * 1.1 - attach_device, detach_device, add_controller and
      remove_controller take ``deadline``
    * 1.2 - attach_device takes ``granted_projects``
    * 1.3 - answers are versioned records (nova_usb.records) instead of
      plain dicts, and attach_device answers a ServerDevice; the calls
      are unchanged, so each is sent at the oldest version that has its
      arguments (CALL_VERSIONS), and a compute host of 1.0 to 1.2 still
      serves them during an upgrade
    * 1.4 - start_detach: a detach accepted at once and made in the
      background; a host of 1.3 or older is asked detach_device instead

    The cap stays VERSION: nova-api is upgraded before the compute hosts,
    so it never sends a call a host could not have.
    """

    # The oldest API version with each call's arguments.
    CALL_VERSIONS = {
        'list_host_devices': '1.0',
        'list_server_devices': '1.0',
        'list_controllers': '1.0',
        'attach_device': '1.2',
        'detach_device': '1.1',
        'start_detach': '1.4',
        'add_controller': '1.1',
        'remove_controller': '1.1',
    }

    def __init__(self):
        target = messaging.Target(topic=TOPIC, namespace=NAMESPACE,
                                  version=VERSION)
        serializer = objects_base.NovaObjectSerializer()
        self.router = rpc.ClientRouter(rpc.get_client(
            target, version_cap=VERSION, serializer=serializer))

    def _client(self, context, host, timeout=None, method=None):
        """The client for ``host``; ``method`` sets the call's version."""
        options = {'server': host}
        if timeout is not None:
            options['timeout'] = timeout
        if method is not None:
            options['version'] = self.CALL_VERSIONS[method]
        return self.router.client(context).prepare(**options)

    @_reraise_usb_errors
    def list_host_devices(self, context, host, timeout=None):
        """``timeout``: seconds to wait instead of [DEFAULT]
        rpc_response_timeout (nova-api asks many hosts at once when it
        looks for a device). [records.HostDevice]
        """
        return records.HostDevice.list_from_rpc(
            self._client(context, host, timeout, 'list_host_devices').call(
                context, 'list_host_devices'))

    @_reraise_usb_errors
    def list_server_devices(self, context, instance):
        """[records.ServerDevice]"""
        return records.ServerDevice.list_from_rpc(
            self._client(context, instance.host,
                         method='list_server_devices').call(
                context, 'list_server_devices', instance=instance))

    @_reraise_usb_errors
    def list_controllers(self, context, instance):
        """[records.Controller]"""
        return records.Controller.list_from_rpc(
            self._client(context, instance.host,
                         method='list_controllers').call(
                context, 'list_controllers', instance=instance))

    def attach_device(self, context, instance, device_id,
                      controller_model=None, granted_projects=None):
        """``granted_projects``: the projects nova-api's stored grants give
        the device to, when the caller may attach only granted devices
        (the compute host adds those of the device's rule); None when the
        caller may attach any device (nova_usb.api.grants).

        Returns the attached device, a records.ServerDevice.
        """
        def made(before, after):
            request = after.device(device_id)
            if request is None or before.device(device_id):
                return None
            return records.ServerDevice(
                id=request.id, host=instance.host,
                vendor_id=request.vendor_id, product_id=request.product_id,
                server_id=instance.uuid, status=statuses.ATTACHED,
                controller_model=request.controller_model)

        def read(answer):
            # A host of API 1.2 or older answers the device as listed on
            # the host, without the request's part.
            return records.ServerDevice.from_rpc(
                answer, status=statuses.ATTACHED,
                controller_model=controller_model)

        return self._change(context, instance, made, 'attach_device', read,
                            device_id=device_id,
                            controller_model=controller_model,
                            granted_projects=granted_projects)

    def start_detach(self, context, instance, device_id):
        """Have the server's host detach the device in the background;
        returns once the host accepted the detach (or refused it). A host
        older than API 1.4 detaches it before it answers, as it always
        did (detach_device).
        """
        try:
            self._start_detach(context, instance, device_id)
        except (messaging.RemoteError, messaging.UnsupportedVersion) as e:
            if not _is_unsupported_version(e):
                raise
            self.detach_device(context, instance, device_id)

    @_reraise_usb_errors
    def _start_detach(self, context, instance, device_id):
        self._client(context, instance.host, method='start_detach').call(
            context, 'start_detach', instance=instance, device_id=device_id)

    def detach_device(self, context, instance, device_id):
        """Detach the device before answering (a revocation, and a detach
        on a host older than API 1.4).
        """
        def made(before, after):
            if before.device(device_id) and not after.device(device_id):
                return True
            return None

        return self._change(context, instance, made, 'detach_device', None,
                            device_id=device_id)

    def add_controller(self, context, instance, model, ports=None):
        """``ports``: the port count asked for, None for the model's.

        Returns the added controller, a records.Controller, whose
        ``ports`` is its port count, never None.
        """
        def made(before, after):
            for request in after.controllers:
                if (before.controller(request.index) is None and
                        request.model == model and request.ports == ports):
                    return records.Controller(
                        index=request.index, model=model,
                        ports=controllers.controller_ports(model, ports),
                        used_ports=0, removable=True)
            return None

        return self._change(context, instance, made, 'add_controller',
                            records.Controller.from_rpc,
                            model=model, ports=ports)

    def remove_controller(self, context, instance, index):
        def made(before, after):
            if (before.controller(index) is not None and
                    after.controller(index) is None):
                return True
            return None

        return self._change(context, instance, made, 'remove_controller',
                            None, index=index)

    @_reraise_usb_errors
    def _change(self, context, instance, made, method, read, **kwargs):
        """Call ``method`` on the server's host, with a deadline.

        ``read`` turns the host's answer into a record (None: the call
        answers nothing). When no answer comes in time, the stored
        requests tell whether the change was made: ``made(before, after)``
        returns what the call would have, or None when it was not made;
        then the timeout is raised.
        """
        before = server_requests.load(
            server_requests.read(context, instance.uuid))
        timeout = CONF.rpc_response_timeout
        deadline = time.time() + timeout - SAVE_MARGIN
        try:
            result = self._client(context, instance.host, timeout,
                                  method).call(
                context, method, instance=instance, deadline=deadline,
                **kwargs)
            if read is not None:
                result = read(result)
        except messaging.MessagingTimeout:
            after = server_requests.load(
                server_requests.read(context, instance.uuid))
            result = made(before, after)
            if result is None:
                raise exception.UsbChangeNotMade(
                    host=instance.host, reason='no reply in time')
        if result is True:
            return None
        return result


class UsbComputeEndpoint(object):
    """Server side, served by nova-compute; each call goes to the host's
    UsbManager, and its records go back as their primitives.
    """

    target = messaging.Target(namespace=NAMESPACE, version=VERSION)

    def __init__(self, manager):
        self.manager = manager

    @messaging.expected_exceptions(*EXPECTED_ERRORS)
    def list_host_devices(self, context):
        return records.to_rpc(self.manager.list_host_devices(context))

    @messaging.expected_exceptions(*EXPECTED_ERRORS)
    def list_server_devices(self, context, instance):
        return records.to_rpc(self.manager.list_server_devices(context,
                                                               instance))

    @messaging.expected_exceptions(*EXPECTED_ERRORS)
    def attach_device(self, context, instance, device_id,
                      controller_model=None, deadline=None,
                      granted_projects=None):
        return records.to_rpc(self.manager.attach_device(
            context, instance, device_id, controller_model, deadline,
            granted_projects))

    @messaging.expected_exceptions(*EXPECTED_ERRORS)
    def detach_device(self, context, instance, device_id, deadline=None):
        return self.manager.detach_device(context, instance, device_id,
                                          deadline)

    @messaging.expected_exceptions(*EXPECTED_ERRORS)
    def start_detach(self, context, instance, device_id):
        self.manager.start_detach(context, instance, device_id)

    @messaging.expected_exceptions(*EXPECTED_ERRORS)
    def list_controllers(self, context, instance):
        return records.to_rpc(self.manager.list_controllers(context, instance))

    @messaging.expected_exceptions(*EXPECTED_ERRORS)
    def add_controller(self, context, instance, model, ports=None,
                       deadline=None):
        return records.to_rpc(self.manager.add_controller(
            context, instance, model, ports, deadline))

    @messaging.expected_exceptions(*EXPECTED_ERRORS)
    def remove_controller(self, context, instance, index, deadline=None):
        return self.manager.remove_controller(context, instance, index,
                                              deadline)


def get_server(host, manager):
    target = messaging.Target(topic=TOPIC, server=host)
    return rpc.get_server(target, [UsbComputeEndpoint(manager)],
                          objects_base.NovaObjectSerializer())
