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

import fixtures
from nova import context as nova_context
from nova import objects
from nova.objects import base as nova_base
from nova import rpc as nova_rpc
from nova_usbclient import statuses
import oslo_messaging as messaging
from oslotest import base

from nova_usb import conf as nova_usb_conf
from nova_usb import exception
from nova_usb import records
from nova_usb import rpc
from tests.unit import test_records

CONF = nova_usb_conf.CONF


class ReraiseTestCase(base.BaseTestCase):
    """On a real message queue, nova-usb's errors arrive as RemoteError:
    nova-api's transport only rebuilds Nova's own exception modules.
    """

    def call(self, error):
        @rpc._reraise_usb_errors
        def remote():
            raise error
        return remote

    def test_usb_errors_are_rebuilt_with_their_message_and_code(self):
        remote = self.call(messaging.RemoteError(
            'UsbDeviceInUse', 'USB device d is held by server s.', ''))
        error = self.assertRaises(exception.UsbDeviceInUse, remote)
        self.assertEqual('USB device d is held by server s.', str(error))
        self.assertEqual(409, error.code)

    def test_other_errors_pass_unchanged(self):
        for exc_type in ('ValueError', 'NovaUsbNoSuchThing', None):
            remote = self.call(messaging.RemoteError(exc_type, 'boom', ''))
            self.assertRaises(messaging.RemoteError, remote)


class _OldEndpoint(object):
    """A compute host of RPC API 1.2: plain dicts (recorded in
    tests.unit.test_records).
    """

    target = messaging.Target(namespace=rpc.NAMESPACE, version='1.2')

    def __init__(self):
        self.detached = []

    def detach_device(self, context, instance, device_id, deadline=None):
        """Detaches before it answers (API 1.1 to 1.3)."""
        self.detached.append(device_id)

    def list_host_devices(self, context):
        return [test_records.OLD_HOST_DEVICE]

    def list_server_devices(self, context, instance):
        return test_records.OLD_SERVER_DEVICES

    def list_controllers(self, context, instance):
        return test_records.OLD_CONTROLLERS

    def attach_device(self, context, instance, device_id,
                      controller_model=None, deadline=None,
                      granted_projects=None):
        return test_records.OLD_ATTACHED

    def add_controller(self, context, instance, model, ports=None,
                       deadline=None):
        return test_records.OLD_ADDED_CONTROLLER


class _Manager(object):
    """What UsbComputeEndpoint asks: the host's UsbManager's answers."""

    def __init__(self):
        self.detached = []

    def start_detach(self, context, instance, device_id):
        self.detached.append(device_id)

    def list_host_devices(self, context):
        return [test_records.host_device()]

    def list_server_devices(self, context, instance):
        return records.ServerDevice.list_from_rpc(
            test_records.OLD_SERVER_DEVICES)

    def list_controllers(self, context, instance):
        return records.Controller.list_from_rpc(test_records.OLD_CONTROLLERS)

    def attach_device(self, context, instance, device_id, controller_model,
                      deadline, granted_projects):
        return records.ServerDevice.of_host_device(
            test_records.host_device(), status=statuses.ATTACHED,
            controller_model=controller_model)

    def add_controller(self, context, instance, model, ports, deadline):
        return records.Controller(index=1, model=model, ports=ports or 4,
                                  used_ports=0, removable=True)


class ComputeHostVersionsTestCase(base.BaseTestCase):
    """nova-api's client over an in-memory message queue, to a compute
    host of this version and to one of RPC API 1.2.
    """

    def setUp(self):
        super().setUp()
        objects.register_all()
        transport = messaging.get_rpc_transport(CONF, url='fake:/')
        self.useFixture(fixtures.MockPatchObject(nova_rpc, 'TRANSPORT',
                                                 transport))
        # The answers do not depend on the stored requests.
        self.useFixture(fixtures.MockPatch(
            'nova_usb.db.server_requests.read'))
        self.useFixture(fixtures.MockPatch(
            'nova_usb.db.server_requests.load'))
        self.context = nova_context.RequestContext('user', 'project',
                                                   is_admin=False)
        self.instance = objects.Instance(
            uuid=test_records.SERVER, host='compute1')

    def serve(self, endpoint):
        server = nova_rpc.get_server(
            messaging.Target(topic=rpc.TOPIC, server='compute1'), [endpoint],
            nova_base.NovaObjectSerializer())
        server.start()
        self.addCleanup(server.wait)
        self.addCleanup(server.stop)

    def answers(self):
        api = rpc.UsbComputeAPI()
        return (
            api.list_host_devices(self.context, 'compute1'),
            api.list_server_devices(self.context, self.instance),
            api.list_controllers(self.context, self.instance),
            api.attach_device(self.context, self.instance,
                              test_records.DEVICE, 'qemu-xhci',
                              granted_projects=None),
            api.add_controller(self.context, self.instance, 'qemu-xhci'))

    def check(self, answers):
        devices, held, found, attached, added = answers
        self.assertEqual([records.HostDevice], [type(d) for d in devices])
        self.assertEqual(test_records.SERVER, devices[0].server_id)
        self.assertEqual([(statuses.ATTACHED, 'qemu-xhci'),
                          (statuses.MISSING, None)],
                         [(d.status, d.controller_model) for d in held])
        self.assertEqual([(0, 2), (1, 4)],
                         [(c.index, c.ports) for c in found])
        self.assertEqual((statuses.ATTACHED, 'qemu-xhci'),
                         (attached.status, attached.controller_model))
        self.assertIsInstance(added, records.Controller)
        self.assertEqual(4, added.ports)

    def detach(self):
        rpc.UsbComputeAPI().start_detach(self.context, self.instance,
                                         test_records.DEVICE)

    def test_compute_host_of_this_version(self):
        manager = _Manager()
        self.serve(rpc.UsbComputeEndpoint(manager))
        self.check(self.answers())
        self.detach()
        self.assertEqual([test_records.DEVICE], manager.detached)

    def test_compute_host_not_upgraded_yet(self):
        endpoint = _OldEndpoint()
        self.serve(endpoint)
        self.check(self.answers())
        # It has no start_detach (API 1.4): asked to detach as before.
        self.detach()
        self.assertEqual([test_records.DEVICE], endpoint.detached)


class CallVersionsTestCase(base.BaseTestCase):

    def test_every_call_has_the_oldest_version_of_its_arguments(self):
        self.assertEqual(set(rpc.UsbComputeAPI.CALL_VERSIONS), {
            name for name in vars(rpc.UsbComputeEndpoint)
            if not name.startswith('_') and name != 'target'})
        self.assertTrue(all(version <= rpc.VERSION for version in
                            rpc.UsbComputeAPI.CALL_VERSIONS.values()))
