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

"""Failures at every step change nothing; concurrent requests, one winner."""

import threading
from unittest import mock

from oslo_db import exception as db_exception

from nova_usb import exception
from nova_usb.virt import guest as usb_guest
from nova_usb_sandbox import fakelibvirt_usb
from tests.functional import test_attach_detach as helpers


def failing_save(*args, **kwargs):
    raise db_exception.DBConnectionError('database went away')


class FaultInjectionTestCase(helpers.UsbTestBase):

    def setUp(self):
        super().setUp()
        self.server = self._create_server(networks='none')

    def assertNothingChanges(self, call, error_class, server=None):
        server = server or self.server
        before = self.snapshot(server)
        error = self.assertRaises(error_class, call)
        self.assertUnchanged(server, before)
        return error

    def assertDatabaseFailure(self, call, server=None):
        """The save failed: the database's own error reaches the caller
        and nothing changed.
        """
        error = self.assertNothingChanges(
            call, db_exception.DBConnectionError, server)
        self.assertEqual('database went away', str(error))

    def test_libvirt_attach_error(self):
        with mock.patch.object(
                fakelibvirt_usb.UsbDomain, '_attach_live',
                side_effect=fakelibvirt_usb._error('internal error: qemu '
                                                   'unexpectedly closed the '
                                                   'monitor', 1)):
            self.assertNothingChanges(
                lambda: self.attach(self.server, self.key1),
                exception.UsbHostRefused)

    def test_save_fails_after_live_attach(self):
        with mock.patch('nova.objects.Instance.save',
                        side_effect=failing_save):
            self.assertDatabaseFailure(
                lambda: self.attach(self.server, self.key1))
        # And it can be attached for real afterwards.
        self.attach(self.server, self.key1)

    def test_save_fails_on_recorded_attach(self):
        server = self._stop_server(self.server)
        with mock.patch('nova.objects.Instance.save',
                        side_effect=failing_save):
            self.assertDatabaseFailure(
                lambda: self.attach(server, self.key1, 'ehci'), server)

    def test_live_detach_times_out(self):
        self.attach(self.server, self.key1)
        original = fakelibvirt_usb.UsbDomain.detachDeviceFlags

        def guest_keeps_it(domain, xml, flags):
            # The guest never lets the device go: only the persistent
            # definition loses it.
            return original(domain, xml, flags & ~(
                fakelibvirt_usb.fakelibvirt.VIR_DOMAIN_AFFECT_LIVE))

        with mock.patch.object(fakelibvirt_usb.UsbDomain,
                               'detachDeviceFlags', guest_keeps_it):
            self.assertNothingChanges(
                lambda: self.detach(self.server, self.key1),
                exception.UsbHostRefused)

    def test_save_fails_after_live_detach(self):
        self.attach(self.server, self.key1)
        with mock.patch('nova.objects.Instance.save',
                        side_effect=failing_save):
            self.assertDatabaseFailure(
                lambda: self.detach(self.server, self.key1))
        self.detach(self.server, self.key1)
        self.assertEqual({}, helpers.hostdevs(self.live_xml(self.server)))

    def test_save_fails_on_controller_add(self):
        server = self._stop_server(self.server)
        with mock.patch('nova.objects.Instance.save',
                        side_effect=failing_save):
            self.assertDatabaseFailure(
                lambda: self.usb_api.add_controller(
                    self.ctxt, self.instance(server), 'ehci'), server)

    def test_save_fails_on_controller_remove(self):
        server = self._stop_server(self.server)
        added = self.usb_api.add_controller(self.ctxt, self.instance(server),
                                            'ehci')
        with mock.patch('nova.objects.Instance.save',
                        side_effect=failing_save):
            self.assertDatabaseFailure(
                lambda: self.usb_api.remove_controller(
                    self.ctxt, self.instance(server), added['index']),
                server)

    def test_save_fails_on_stopped_server_detach(self):
        self.attach(self.server, self.key1)
        server = self._stop_server(self.server)
        with mock.patch('nova.objects.Instance.save',
                        side_effect=failing_save):
            self.assertDatabaseFailure(
                lambda: self.detach(server, self.key1), server)

    def test_definition_cleanup_fails_on_stopped_server_detach(self):
        # The save made the detach; the stale definition is only logged
        # (Nova writes it anew at the next start, without the device).
        self.attach(self.server, self.key1)
        server = self._stop_server(self.server)
        with mock.patch.object(
                fakelibvirt_usb.UsbDomain, 'detachDeviceFlags',
                side_effect=fakelibvirt_usb._error('internal error', 1)):
            self.detach(server, self.key1)
        self.assertEqual([], [r.id for r in self.requests(server).devices])
        self.assertIn('Could not drop USB device %s from the libvirt '
                      'definition' % self.key1, self.stdlog.logger.output)
        server = self._start_server(server)
        self.assertEqual({}, helpers.hostdevs(self.live_xml(server)))


class ConcurrencyTestCase(helpers.UsbTestBase):

    def test_one_device_many_servers_one_winner(self):
        servers = [self._create_server(networks='none') for _ in range(5)]
        instances = [self.instance(s) for s in servers]
        start = threading.Barrier(len(instances))
        results = {}

        def attach(instance):
            start.wait()
            try:
                self.usb_api.attach_device(self.ctxt, instance, self.key1)
                results[instance.uuid] = 'attached'
            except exception.UsbDeviceInUse as e:
                results[instance.uuid] = e

        threads = [threading.Thread(target=attach, args=(i,))
                   for i in instances]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        winners = [uuid for uuid, r in results.items() if r == 'attached']
        self.assertEqual(1, len(winners), results)
        self.assertEqual(len(instances), len(results))
        self.assertEqual(winners[0],
                         self.host_device(self.key1)['server_id'])
        holding = [s for s in servers
                   if helpers.hostdevs(self.live_xml(s))]
        self.assertEqual([winners[0]], [s['id'] for s in holding])

    def test_a_slow_live_detach_keeps_no_other_server_waiting(self):
        slow = self._create_server(networks='none')
        other = self._create_server(networks='none')
        self.attach(slow, self.key1)
        original = fakelibvirt_usb.UsbDomain.detachDeviceFlags
        detaching = threading.Event()
        other_attached = threading.Event()
        waited_in_vain = []

        def guest_takes_its_time(domain, xml, flags):
            detaching.set()
            if not other_attached.wait(timeout=30):
                waited_in_vain.append(True)
            return original(domain, xml, flags)

        errors = []

        def detach():
            try:
                self.detach(slow, self.key1)
            except Exception as e:
                errors.append(e)

        with mock.patch.object(fakelibvirt_usb.UsbDomain,
                               'detachDeviceFlags', guest_takes_its_time):
            thread = threading.Thread(target=detach)
            thread.start()
            self.assertTrue(detaching.wait(timeout=30))
            # While the guest has not let go, the host serves others.
            self.attach(other, self.key2)
            other_attached.set()
            thread.join(timeout=60)
        self.assertEqual(([], []), (errors, waited_in_vain))
        self.assertEqual({}, self.server_devices(slow))
        self.assertEqual({self.key2: 'attached'}, self.server_devices(other))


class GiveBackFaultTestCase(helpers.Hotplug, helpers.UsbTestBase):
    """A held device comes back and libvirt refuses a step of giving it
    back: the requests and the claims stay, the error is logged, and the
    device comes back when Nova next writes the domain.
    """

    def setUp(self):
        super().setUp()
        server = self._stop_server(self._create_server(networks='none'))
        self.attach(server, self.key1, controller_model='qemu-xhci')
        self.server = self._start_server(server)

    def replug_while_libvirt_refuses(self, method):
        before = self.snapshot(self.server)
        key = self.unplug('1-1.1')
        with mock.patch.object(
                fakelibvirt_usb.UsbDomain, method,
                side_effect=fakelibvirt_usb._error('internal error: '
                                                   'refused', 1)):
            self.plug(key, devnum=42)
            self.wait_for(lambda: 'Could not give USB device %s back' %
                          self.key1 in self.stdlog.logger.output,
                          'the give-back to fail')
            # The testbed may report the device twice: every give-back
            # has ended while libvirt still refuses.
            self.wait_for(lambda: not [
                t for t in threading.enumerate()
                if t.name.startswith('nova-usb-give-back-')],
                'every give-back to end')
        xml, requests, claims = before
        self.assertEqual((requests, claims), self.snapshot(self.server)[1:])
        return xml

    def test_stale_device_detach_refused_changes_nothing(self):
        xml = self.replug_while_libvirt_refuses('detachDeviceFlags')
        self.assertEqual(xml, self.snapshot(self.server)[0])

    def test_attach_refused_leaves_it_for_the_next_start(self):
        self.replug_while_libvirt_refuses('attachDeviceFlags')
        self._reboot_server(self.server, hard=True)
        self.assertEqual(
            ('0x1050', '0x0407', '1', '42'),
            helpers.hostdevs(self.live_xml(self.server))[
                usb_guest.device_alias(self.key1)][:4])
