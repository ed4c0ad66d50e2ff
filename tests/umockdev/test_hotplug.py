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

"""Hotplug: uevents keep the inventory current.

umockdev delivers its uevents to libudev's monitor socket, so the watcher
runs for real here: its own thread, pyudev.Monitor, the callback.
"""

import dataclasses
import os
import threading
import time

import fixtures

from nova_usb.virt import inventory
from nova_usb.virt import usb_device
from nova_usb.virt import watcher
from tests.fixtures import usbgen
from tests.umockdev import base

# How long a test waits for the watcher to report a uevent. umockdev
# delivers in milliseconds; the bound only stops a broken test hanging.
EVENT_TIMEOUT = 5
# stop() wakes the watcher thread and joins it; this only bounds a hang.
STOP_TIMEOUT = 2

SERIAL = '0001234'


def token(port_path, devnum, serial=SERIAL):
    return usbgen.Device(port_path, '1050', '0407', devnum, serial=serial,
                         manufacturer='Yubico', product='YubiKey',
                         speed='12', interfaces=('03',))


class Changes(object):
    """The watcher's callback: records changes, wakes waiting tests.

    It also stands in for threading.excepthook, so that a watcher thread
    that dies fails the waiting test at once, with the thread's error,
    rather than after a silent timeout.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting = []  # (action, port path, threading.Event)
        self.seen = []
        self.thread_errors = []

    def __call__(self, change):
        with self._lock:
            self.seen.append(change)
            for action, port_path, arrived in self._waiting:
                if self._matches(change, action, port_path):
                    arrived.set()

    def thread_died(self, args):
        with self._lock:
            self.thread_errors.append('%s in thread %s: %s' % (
                args.exc_type.__name__, args.thread and args.thread.name,
                args.exc_value))
            for _, _, arrived in self._waiting:
                arrived.set()

    @staticmethod
    def _matches(change, action, port_path):
        return (change.action == action and
                change.device.port_path == port_path)

    def wait_for(self, action, port_path):
        """The first change of action at port_path; fails after a while."""
        arrived = threading.Event()
        with self._lock:
            self._waiting.append((action, port_path, arrived))
            if any(self._matches(c, action, port_path) for c in self.seen):
                arrived.set()
            if self.thread_errors:
                arrived.set()
        arrived.wait(EVENT_TIMEOUT)
        with self._lock:
            self.check_threads()
            for change in self.seen:
                if self._matches(change, action, port_path):
                    return change
        raise AssertionError('no %s of a device at %s within %ss; seen: %s'
                             % (action, port_path, EVENT_TIMEOUT, self.seen))

    def check_threads(self):
        if self.thread_errors:
            raise AssertionError('the watcher thread died: %s' %
                                 '; '.join(self.thread_errors))


class HotplugTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.host = usbgen.Host.with_buses(1)
        self.inventory = inventory.HostUsbInventory(base.HOST, self.context)

    def plug(self, device):
        """Add a device; umockdev sends its 'add' uevent itself."""
        self.host.add(device)
        self.testbed.add_from_string(self.host.recording([device]))
        return self.host.sys_path(device)

    def unplug(self, device):
        """As the kernel: a 'remove' uevent, then the sysfs tree goes."""
        self.host.devices.remove(device)
        sys_path = self.host.sys_path(device)
        self.testbed.uevent(sys_path, 'remove')
        self.testbed.remove_device(sys_path)
        return sys_path

    def ports(self):
        return {d.port_path: d.id for d in self.inventory.devices()}


class TestApplyUevent(HotplugTestCase):
    """The inventory's side of a uevent, one event at a time."""

    def setUp(self):
        super().setUp()
        self.testbed.add_from_string(self.host.recording())
        self.inventory.scan()

    def test_add(self):
        sys_path = self.plug(token('1-2', 2))

        change = self.inventory.apply_uevent(
            'add', self.udev_device(sys_path))

        expected_id = usb_device.device_id(base.HOST, '1050', '0407',
                                           serial=SERIAL)
        self.assertEqual((inventory.ADDED, '1-2', expected_id),
                         (change.action, change.device.port_path,
                          change.device.id))
        self.assertEqual({'usb1': self.ports()['usb1'], '1-2': expected_id},
                         self.ports())

    def test_remove(self):
        device = token('1-2', 2)
        sys_path = self.plug(device)
        added = self.inventory.apply_uevent('add', self.udev_device(sys_path))
        gone = self.udev_device(sys_path)
        self.unplug(device)

        change = self.inventory.apply_uevent('remove', gone)

        self.assertEqual((inventory.REMOVED, added.device.id),
                         (change.action, change.device.id))
        self.assertEqual(['usb1'], list(self.ports()))

    def test_moved_device_keeps_its_id(self):
        # The kernel may see the device at its new port before it notices
        # it left the old one; by then the old one's serial is gone.
        old = token('1-2', 2)
        old_path = self.plug(old)
        self.inventory.apply_uevent('add', self.udev_device(old_path))
        known_id = self.ports()['1-2']
        new_path = self.plug(dataclasses.replace(old, port_path='1-3',
                                                 devnum=3))
        self.inventory.apply_uevent('add', self.udev_device(new_path))
        gone = self.udev_device(old_path)
        self.unplug(old)
        self.assertIsNone(gone.attributes.get('serial'))

        change = self.inventory.apply_uevent('remove', gone)

        self.assertEqual((inventory.REMOVED, '1-2'),
                         (change.action, change.device.port_path))
        self.assertEqual({'usb1': self.ports()['usb1'], '1-3': known_id},
                         self.ports())

    def test_moved_device_is_announced_with_its_id(self):
        # The kernel had already let go of the old port when the 'add' for
        # the new one is read: the add carries the serial-based id, and the
        # late 'remove' of the old port changes nothing.
        old = token('1-2', 2)
        old_path = self.plug(old)
        self.inventory.apply_uevent('add', self.udev_device(old_path))
        known_id = self.ports()['1-2']
        gone = self.udev_device(old_path)
        self.unplug(old)
        new_path = self.plug(dataclasses.replace(old, port_path='1-3',
                                                 devnum=3))

        added = self.inventory.apply_uevent('add',
                                            self.udev_device(new_path))

        self.assertEqual((inventory.ADDED, known_id, '1-3'),
                         (added.action, added.device.id,
                          added.device.port_path))
        self.assertIsNone(self.inventory.apply_uevent('remove', gone))
        self.assertEqual({'usb1': self.ports()['usb1'], '1-3': known_id},
                         self.ports())

    def test_replug_with_other_interfaces_keeps_the_id_not_the_classes(self):
        # A cloned descriptor (same vendor, product, serial) with a
        # keyboard interface added: same id, so the manager must tell it
        # apart by the classes the inventory reports.
        device = token('1-2', 2)
        self.inventory.apply_uevent('add', self.udev_device(
            self.plug(device)))
        known_id = self.ports()['1-2']
        gone = self.udev_device(self.host.sys_path(device))
        self.unplug(device)
        self.inventory.apply_uevent('remove', gone)
        clone = dataclasses.replace(device, devnum=3,
                                    interfaces=('0b', '03', '08'))

        change = self.inventory.apply_uevent('add', self.udev_device(
            self.plug(clone)))

        self.assertEqual((inventory.ADDED, known_id, ('03', '08', '0b')),
                         (change.action, change.device.id,
                          change.device.interface_classes))

    def test_a_device_with_a_hub_interface_is_a_hub(self):
        composite = dataclasses.replace(token('1-2', 2),
                                        interfaces=('03', '09'))
        change = self.inventory.apply_uevent('add', self.udev_device(
            self.plug(composite)))
        self.assertEqual(('00', True), (change.device.device_class,
                                        change.device.is_hub))

    def test_remove_of_an_unknown_device_is_ignored(self):
        sys_path = self.plug(token('1-2', 2))
        before = self.inventory.devices()
        unknown = self.udev_device(sys_path)

        self.assertIsNone(self.inventory.apply_uevent('remove', unknown))
        self.assertEqual(before, self.inventory.devices())

    def test_add_of_an_unreadable_device_is_ignored(self):
        sys_path = self.plug(usbgen.Device('1-2', '1050', '0407', 2,
                                           omit=('idVendor',)))

        self.assertIsNone(self.inventory.apply_uevent(
            'add', self.udev_device(sys_path)))
        self.assertEqual(['usb1'], list(self.ports()))

    def test_change_rereads_and_unbind_changes_nothing(self):
        sys_path = self.plug(token('1-2', 2))
        self.inventory.apply_uevent('add', self.udev_device(sys_path))
        with open(self.testbed.real_path(sys_path) + '/product', 'w') as f:
            f.write('YubiKey 5 NFC\n')

        unbound = self.inventory.apply_uevent(
            'unbind', self.udev_device(sys_path))
        changed = self.inventory.apply_uevent(
            'change', self.udev_device(sys_path))

        self.assertIsNone(unbound)
        self.assertEqual((inventory.ADDED, 'YubiKey 5 NFC'),
                         (changed.action, changed.device.product_name))
        self.assertEqual(['usb1', '1-2'], list(self.ports()))


class TestHotplugWatcher(HotplugTestCase):
    """The real watcher thread on umockdev's uevents."""

    def setUp(self):
        super().setUp()
        self.hub = self.host.add(usbgen.hub('1-1', 2))
        self.testbed.add_from_string(self.host.recording())
        self.changes = Changes()
        self.useFixture(fixtures.MonkeyPatch('threading.excepthook',
                                             self.changes.thread_died))
        self.addCleanup(self.changes.check_threads)
        self.watcher = watcher.HotplugWatcher(
            self.inventory, on_change=self.changes, context=self.context)
        self.watcher.start()
        self.addCleanup(self.watcher.stop)

    def test_start_scans(self):
        self.assertEqual(['usb1', '1-1'], list(self.ports()))

    def test_plug_and_unplug(self):
        device = token('1-1.4', 3)
        self.plug(device)

        added = self.changes.wait_for(inventory.ADDED, '1-1.4')
        self.assertEqual(['usb1', '1-1', '1-1.4'], list(self.ports()))
        self.assertEqual(added.device.id, self.ports()['1-1.4'])

        self.unplug(device)

        removed = self.changes.wait_for(inventory.REMOVED, '1-1.4')
        self.assertEqual(added.device.id, removed.device.id)
        self.assertEqual(['usb1', '1-1'], list(self.ports()))

    def test_moved_device_keeps_its_id_and_stays_listed(self):
        old = token('1-1.1', 3)
        old_path = self.plug(old)
        known_id = self.changes.wait_for(inventory.ADDED, '1-1.1').device.id

        # Add at the new port before the remove at the old one, whose
        # serial can no longer be read.
        self.plug(dataclasses.replace(old, port_path='1-1.2', devnum=4))
        self.changes.wait_for(inventory.ADDED, '1-1.2')
        os.unlink(self.testbed.real_path(old_path) + '/serial')
        self.unplug(old)
        self.changes.wait_for(inventory.REMOVED, '1-1.1')

        self.assertEqual({'usb1': self.ports()['usb1'],
                          '1-1': self.ports()['1-1'], '1-1.2': known_id},
                         self.ports())
        self.assertEqual((4, SERIAL), (self.inventory.get(known_id).devnum,
                                       self.inventory.get(known_id).serial))

    def test_remove_of_an_unknown_device_is_ignored(self):
        # Never listed: its idVendor could not be read.
        unreadable = usbgen.Device('1-1.3', '1050', '0407', 3,
                                   omit=('idVendor',))
        self.plug(unreadable)
        self.unplug(unreadable)
        self.plug(token('1-1.4', 4))

        # uevents arrive in order: anything the unknown device caused
        # would be seen before this.
        self.changes.wait_for(inventory.ADDED, '1-1.4')
        self.assertEqual([(inventory.ADDED, '1-1.4')],
                         [(c.action, c.device.port_path)
                          for c in self.changes.seen])
        self.assertEqual(['usb1', '1-1', '1-1.4'], list(self.ports()))

    def test_repeated_add_changes_nothing(self):
        hub_path = self.host.sys_path(self.hub)
        before = self.inventory.devices()

        self.testbed.uevent(hub_path, 'add')

        again = self.changes.wait_for(inventory.ADDED, '1-1')
        self.assertEqual(before[1], again.device)
        self.assertEqual(before, self.inventory.devices())

    def test_stop_returns_promptly(self):
        started = time.monotonic()
        self.watcher.stop()
        stopped_in = time.monotonic() - started

        self.assertLess(stopped_in, STOP_TIMEOUT)
        self.assertEqual([], [t for t in threading.enumerate()
                              if t.name == 'nova-usb-hotplug'])
