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

"""Device ids follow the identity rules of nova_usb.virt.usb_device.

Operators and servers hold these ids across replugs and reboots, so each
rule is checked on real libudev, with the host layouts that break naive
rules: identical tokens, constant serials, swapped ports.
"""

import dataclasses

from nova_usb.virt import usb_device
from tests.fixtures import usbgen
from tests.umockdev import base

YUBIKEY = ('1050', '0407')
FTDI = ('0403', '6001')


def token(port_path, devnum, serial=None, ids=YUBIKEY, product='YubiKey'):
    return usbgen.Device(port_path, ids[0], ids[1], devnum, serial=serial,
                         manufacturer='Yubico', product=product, speed='12',
                         interfaces=('03',))


def by_serial_id(vendor_product, serial):
    return usb_device.device_id(base.HOST, *vendor_product, serial=serial)


def by_port_id(vendor_product, port_path):
    return usb_device.device_id(base.HOST, *vendor_product,
                                port_path=port_path)


class TestIdentity(base.TestCase):

    def setUp(self):
        super().setUp()
        self.host = usbgen.Host.with_buses(1, 2, usb3=(2,))

    def _load(self, devices=None):
        self.testbed.add_from_string(self.host.recording(devices))

    def _unplug(self, *devices):
        for device in devices:
            self.host.devices.remove(device)
            self.testbed.remove_device(self.host.sys_path(device))

    def _plug(self, *devices):
        for device in devices:
            self.host.add(device)
        self._load(list(devices))

    def test_identical_tokens_with_different_serials(self):
        self.host.add(token('1-2', 2, serial='0001234'))
        self.host.add(token('1-3', 3, serial='0005678'))
        self._load()

        ports = self.by_port(self.scan())

        self.assertEqual(by_serial_id(YUBIKEY, '0001234'), ports['1-2'].id)
        self.assertEqual(by_serial_id(YUBIKEY, '0005678'), ports['1-3'].id)
        self.assertNotEqual(ports['1-2'].id, ports['1-3'].id)

    def test_token_without_serial_is_known_by_its_port(self):
        self.host.add(token('2-4', 7))
        self._load()

        device = self.by_port(self.scan())['2-4']

        self.assertIsNone(device.serial)
        self.assertEqual(2, device.bus)
        self.assertEqual(by_port_id(YUBIKEY, '2-4'), device.id)

    def test_deep_hub_chain(self):
        # Five hubs, the most USB allows between a root hub and a device.
        chain = ['1-1', '1-1.2', '1-1.2.3', '1-1.2.3.4', '1-1.2.3.4.1']
        for devnum, port in enumerate(chain, start=2):
            self.host.add(usbgen.hub(port, devnum))
        self.host.add(token('1-1.2.3.4.1.2', 9, serial='DEEP'))
        self._load()

        devices = self.scan()

        self.assertEqual(['usb1'] + chain + ['1-1.2.3.4.1.2', 'usb2'],
                         [d.port_path for d in devices])
        deepest = devices[-2]
        self.assertEqual(
            '/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2.3/'
            '1-1.2.3.4/1-1.2.3.4.1/1-1.2.3.4.1.2', deepest.sys_path)
        self.assertEqual((1, 9, 'DEEP'),
                         (deepest.bus, deepest.devnum, deepest.serial))
        self.assertEqual(by_serial_id(YUBIKEY, 'DEEP'), deepest.id)
        self.assertEqual([True] * 6, [d.is_hub for d in devices[:6]])
        self.assertEqual(
            [by_port_id(('05e3', '0610'), port) for port in chain],
            [d.id for d in devices[1:6]])

    def test_replug_with_new_device_numbers_keeps_ids(self):
        serialed = self.host.add(token('1-2', 2, serial='0001234'))
        unserialed = self.host.add(token('1-3', 3))
        self._load()
        before = self.by_port(self.scan())

        self._unplug(serialed, unserialed)
        self._plug(dataclasses.replace(serialed, devnum=4),
                   dataclasses.replace(unserialed, devnum=5))
        after = self.by_port(self.scan())

        self.assertEqual((2, 3), (before['1-2'].devnum, before['1-3'].devnum))
        self.assertEqual((4, 5), (after['1-2'].devnum, after['1-3'].devnum))
        self.assertEqual({p: d.id for p, d in before.items()},
                         {p: d.id for p, d in after.items()})

    def test_serialed_devices_swapped_keep_their_ids(self):
        first = self.host.add(token('1-2', 2, serial='0001234'))
        second = self.host.add(token('1-3', 3, serial='0005678'))
        self._load()
        before = self.by_port(self.scan())

        self._unplug(first, second)
        self._plug(dataclasses.replace(first, port_path='1-3', devnum=4),
                   dataclasses.replace(second, port_path='1-2', devnum=5))
        after = self.by_port(self.scan())

        self.assertEqual('0001234', after['1-3'].serial)
        self.assertEqual(before['1-2'].id, after['1-3'].id)
        self.assertEqual(before['1-3'].id, after['1-2'].id)

    def test_unserialed_devices_swapped_ids_follow_the_port(self):
        # Two USB serial cables of one make without serial numbers; only
        # their product strings (which the ids ignore) tell them apart.
        left = self.host.add(token('1-2', 2, ids=FTDI, product='left'))
        right = self.host.add(token('1-3', 3, ids=FTDI, product='right'))
        self._load()
        before = self.by_port(self.scan())

        self._unplug(left, right)
        self._plug(dataclasses.replace(left, port_path='1-3', devnum=4),
                   dataclasses.replace(right, port_path='1-2', devnum=5))
        after = self.by_port(self.scan())

        self.assertEqual('left', after['1-3'].product_name)
        self.assertEqual(before['1-3'].id, after['1-3'].id)
        self.assertEqual(before['1-2'].id, after['1-2'].id)
        self.assertEqual(by_port_id(FTDI, '1-3'), after['1-3'].id)

    def test_two_devices_with_one_serial_are_known_by_port(self):
        self.host.add(token('1-2', 2, serial='000000000001'))
        self.host.add(token('2-1', 2, serial='000000000001'))
        self.host.add(token('1-4', 3, serial='000000000002'))
        self._load()

        ports = self.by_port(self.scan())

        self.assertEqual(by_port_id(YUBIKEY, '1-2'), ports['1-2'].id)
        self.assertEqual(by_port_id(YUBIKEY, '2-1'), ports['2-1'].id)
        self.assertNotEqual(ports['1-2'].id, ports['2-1'].id)
        # The collision does not spill over to devices with other serials.
        self.assertEqual(by_serial_id(YUBIKEY, '000000000002'),
                         ports['1-4'].id)

    def test_reboot_keeps_ids(self):
        self.host.add(usbgen.hub('1-1', 2))
        self.host.add(token('1-1.1', 3, serial='0001234'))
        self.host.add(token('1-1.2', 4))
        self._load()
        before = self.scan()

        self.reboot()
        self._load()
        after = self.scan()

        self.assertEqual(5, len(after))
        self.assertEqual([(d.port_path, d.id) for d in before],
                         [(d.port_path, d.id) for d in after])

    def test_other_host_other_ids(self):
        self.host.add(token('1-2', 2, serial='0001234'))
        self.host.add(token('1-3', 3))
        self._load()

        here = self.scan('compute-1')
        there = self.scan('compute-2')

        self.assertEqual([d.port_path for d in here],
                         [d.port_path for d in there])
        self.assertEqual(set(), {d.id for d in here} & {d.id for d in there})
        self.assertEqual(
            usb_device.device_id('compute-2', *YUBIKEY, serial='0001234'),
            self.by_port(there)['1-2'].id)
