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

"""When nova-compute serves nova-usb's RPC API: once the service is up
(nova-usb's own start-up done, then Nova's: its first resource update and
its own RPC servers), until it stops; never after a start that fails.

Each check is a real call from nova-api's side (list_host_devices, with a
short timeout): a host that does not serve yet does not answer.
"""

from unittest import mock

import fixtures
from nova.compute import resource_tracker
from nova import exception as nova_exception
from nova import manager as nova_manager
import oslo_messaging as messaging

from nova_usb.virt import manager as usb_manager
from tests.functional import base

# Seconds a call waits for a host that does not answer.
NO_ANSWER = 1
# A [pci] device_spec Nova rejects in its first resource update (when PCI
# devices are reported to placement): the start of nova-compute fails
# after the driver's init_host.
DEVICE_SPEC_NOVA_REJECTS = ['{"devname": "eth0"}']


class ServiceLifecycleTestCase(base.UsbServersTestBase):

    def answers(self, host='compute1'):
        """Whether nova-usb on ``host`` answers a call."""
        try:
            self.usb_api.list_host_devices(self.ctxt, host,
                                           timeout=NO_ANSWER)
        except messaging.MessagingTimeout:
            return False
        return True

    def start_and_probe(self):
        """Start compute1; whether nova-usb answered at each step of the
        start, in order.
        """
        answered = []

        def after(step, original):
            def probe(*args, **kwargs):
                result = original(*args, **kwargs)
                answered.append((step, self.answers()))
                return result
            return probe

        with mock.patch.object(
                usb_manager.UsbManager, 'start',
                after('nova-usb start-up', usb_manager.UsbManager.start)), \
            mock.patch.object(
                resource_tracker.ResourceTracker, 'update_available_resource',
                after('first resource update', resource_tracker.
                      ResourceTracker.update_available_resource)), \
            mock.patch.object(
                nova_manager.Manager, 'post_start_hook',
                after("Nova's start-up", nova_manager.Manager.
                      post_start_hook)):
            self.start_compute('compute1')
        return answered

    def test_serves_once_nova_compute_is_up(self):
        answered = self.start_and_probe()
        self.assertEqual([('nova-usb start-up', False),
                          ('first resource update', False),
                          ("Nova's start-up", False)], answered)
        self.assertTrue(self.answers())
        self.assertEqual(
            sorted(d.id for d in
                   self.computes['compute1'].driver.usb.inventory.devices()),
            sorted(d['id'] for d in self.usb_api.list_host_devices(
                self.ctxt, 'compute1')))

    def test_stops_with_the_service(self):
        self.start_compute('compute1')
        compute = self.computes['compute1']
        self.assertTrue(self.answers())
        compute.stop()
        self.assertIsNone(compute.driver._usb_rpc_server)
        self.assertFalse(self.answers())

    def test_serves_again_after_a_restart(self):
        self.start_compute('compute1')
        self.restart_compute_service('compute1')
        self.assertTrue(self.answers())

    def test_a_service_stopped_during_its_start_never_serves(self):
        # The service is told to stop (SIGTERM) while its start is still
        # on the way: the driver's cleanup_host runs, in the stopping
        # thread, before the start reaches post_start_hook.
        original_hook = nova_manager.Manager.post_start_hook

        def post_start_hook(manager):
            manager.driver.cleanup_host(manager.host)
            original_hook(manager)

        with mock.patch.object(nova_manager.Manager, 'post_start_hook',
                               post_start_hook):
            self.start_compute('compute1')
        self.assertIsNone(self.computes['compute1'].driver._usb_rpc_server)
        self.assertFalse(self.answers())

    def test_a_failed_start_never_serves(self):
        self.flags(report_in_placement=True,
                   device_spec=DEVICE_SPEC_NOVA_REJECTS, group='pci')
        # No eth0 in this host's sysfs, as in Nova's own tests of it.
        self.useFixture(fixtures.MockPatch(
            'nova.pci.utils.get_function_by_ifname',
            return_value=(None, False)))
        drivers = []
        original_start = usb_manager.UsbManager.start

        def start(usb, context):
            drivers.append(usb.driver)
            return original_start(usb, context)

        with mock.patch.object(usb_manager.UsbManager, 'start', start):
            self.assertRaises(nova_exception.PlacementPciException,
                              self.start_compute, 'compute1')
        # nova-usb's start-up ran: the start failed after it, in Nova's.
        [driver] = drivers
        self.assertIsNotNone(driver.usb)
        self.assertIsNone(driver._usb_rpc_server)
        self.assertFalse(self.answers())
        # Nova's harness also fails the test when an RPC server it started
        # is still polling at its end (RPCPollerCleanupFixture).
