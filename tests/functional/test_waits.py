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

"""Every wait is bounded, and nova-api's answer matches what was made."""

import threading
import time
from unittest import mock

from oslo_concurrency import lockutils
import oslo_messaging as messaging

from nova_usb import exception
from nova_usb import rpc as usb_rpc
from nova_usb_sandbox import fakelibvirt_usb
from tests.functional import test_attach_detach as helpers


class LockWaitTestCase(helpers.UsbTestBase):

    def setUp(self):
        super().setUp()
        self.server = self._create_server(networks='none')
        self.flags(lock_timeout=1, group='usb')

    def hold(self, lock):
        """Hold ``lock`` from another thread until the test ends."""
        taken, done = threading.Event(), threading.Event()

        def holder():
            with lock:
                taken.set()
                done.wait(timeout=60)

        thread = threading.Thread(target=holder)
        thread.start()
        self.addCleanup(thread.join, 60)
        self.addCleanup(done.set)
        self.assertTrue(taken.wait(timeout=10))

    def assertRefusedInTime(self, call):
        before = self.snapshot(self.server)
        started = time.monotonic()
        error = self.assertRaises(exception.UsbServerBusy, call)
        self.assertLess(time.monotonic() - started, 10)
        self.assertIn('Another operation on the server is still running',
                      str(error))
        self.assertUnchanged(self.server, before)

    def test_nova_holding_the_server_bounds_an_attach(self):
        # What Nova's compute manager holds while it builds, stops,
        # reboots, shelves or deletes the server.
        self.hold(lockutils.internal_lock(self.server['id']))
        self.assertRefusedInTime(lambda: self.attach(self.server, self.key1))

    def test_a_busy_host_bounds_a_detach_too(self):
        self.attach(self.server, self.key1)
        self.hold(lockutils.internal_lock(self.server['id']))
        self.assertRefusedInTime(lambda: self.detach(self.server, self.key1))

    def test_the_host_lock_is_bounded(self):
        self.hold(self.computes['compute1'].driver.usb.lock)
        self.assertRefusedInTime(lambda: self.attach(self.server, self.key1))


class DeadlineTestCase(helpers.UsbTestBase):
    """The compute host neither starts nor saves a change after nova-api's
    deadline.
    """

    def setUp(self):
        super().setUp()
        self.server = self._create_server(networks='none')

    def call(self, method, deadline, **kwargs):
        client = self.usb_api._client(self.ctxt, 'compute1')
        try:
            return client.call(self.ctxt, method,
                               instance=self.instance(self.server),
                               deadline=deadline, **kwargs)
        except messaging.RemoteError as e:
            if e.exc_type == 'UsbChangeTooLate':
                raise exception.UsbChangeTooLate(message=e.value)
            raise

    def test_a_change_that_arrives_late_is_not_started(self):
        before = self.snapshot(self.server)
        self.assertRaises(exception.UsbChangeTooLate, self.call,
                          'attach_device', time.time() - 1,
                          device_id=self.key1)
        self.assertUnchanged(self.server, before)

    def test_a_change_that_would_end_late_is_undone(self):
        before = self.snapshot(self.server)
        original = fakelibvirt_usb.UsbDomain.attachDeviceFlags

        def slow(domain, xml, flags):
            time.sleep(2)
            return original(domain, xml, flags)

        with mock.patch.object(fakelibvirt_usb.UsbDomain,
                               'attachDeviceFlags', slow):
            self.assertRaises(exception.UsbChangeTooLate, self.call,
                              'attach_device', time.time() + 1,
                              device_id=self.key1)
        self.assertUnchanged(self.server, before)


class NoReplyTestCase(helpers.UsbTestBase):
    """No reply in time: nova-api answers by what the compute host saved."""

    def setUp(self):
        super().setUp()
        self.server = self._create_server(networks='none')

    def reply_lost(self, call_made):
        """The RPC call times out; ``call_made``: whether the compute host
        got the request and answered too late.
        """
        original = usb_rpc.UsbComputeAPI._client

        def client(api, context, host, timeout=None, method=None):
            prepared = original(api, context, host, timeout, method)

            class Lost(object):
                def call(self, ctxt, method, **kwargs):
                    if call_made:
                        prepared.call(ctxt, method, **kwargs)
                    raise messaging.MessagingTimeout('no reply')
            return Lost()

        return mock.patch.object(usb_rpc.UsbComputeAPI, '_client', client)

    def test_attach_made_is_reported_made(self):
        with self.reply_lost(call_made=True):
            shown = self.attach(self.server, self.key1)
        self.assertEqual(self.key1, shown['id'])
        self.assertEqual({self.key1: 'attached'},
                         self.server_devices(self.server))

    def test_attach_not_made_is_reported_not_made(self):
        before = self.snapshot(self.server)
        with self.reply_lost(call_made=False):
            error = self.assertRaises(exception.UsbChangeNotMade,
                                      self.attach, self.server, self.key1)
        self.assertIn('It was not made', str(error))
        self.assertUnchanged(self.server, before)

    def test_detach_made_is_reported_made(self):
        self.attach(self.server, self.key1)
        with self.reply_lost(call_made=True):
            self.assertIsNone(self.detach(self.server, self.key1))
        self.assertEqual({}, self.server_devices(self.server))

    def test_controller_add_made_is_reported_made(self):
        server = self._stop_server(self.server)
        with self.reply_lost(call_made=True):
            added = self.usb_api.add_controller(self.ctxt,
                                                self.instance(server), 'ehci')
        self.assertEqual('ehci', added.model)
        # The model's port count, as the compute host would have answered,
        # not the request's (null): the API's schema wants a number.
        self.assertEqual(6, added.ports)
        self.assertEqual(
            [added['index']],
            [c.index for c in self.requests(server).controllers])

    def test_controller_remove_not_made_is_reported_not_made(self):
        server = self._stop_server(self.server)
        added = self.usb_api.add_controller(self.ctxt, self.instance(server),
                                            'ehci')
        with self.reply_lost(call_made=False):
            self.assertRaises(exception.UsbChangeNotMade,
                              self.usb_api.remove_controller, self.ctxt,
                              self.instance(server), added['index'])
        self.assertEqual(
            [added['index']],
            [c.index for c in self.requests(server).controllers])
