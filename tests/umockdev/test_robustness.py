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

"""What sysfs and udev really hand a reader, and how it is read.

One unreadable device must never hide the others or stop the compute
service: it is skipped or read as well as it can be.
"""

import collections

from nova_usb.virt import inventory
from nova_usb.virt import usb_device
from tests.fixtures import usbgen
from tests.umockdev import base


class TestRobustness(base.TestCase):

    def setUp(self):
        super().setUp()
        self.host = usbgen.Host.with_buses(1)

    def _scan_one(self, device, others=()):
        """Load the host, return (the device as read, all devices)."""
        self.host.add(device)
        for other in others:
            self.host.add(other)
        self.testbed.add_from_string(self.host.recording())
        devices = self.scan()
        return self.by_port(devices).get(device.port_path), devices

    def test_device_without_serial(self):
        device, _ = self._scan_one(usbgen.Device(
            '1-3', '046d', 'c52b', 4, manufacturer='Logitech',
            product='USB Receiver'))

        self.assertIsNone(device.serial)
        self.assertIsNone(device.to_dict()['serial'])
        self.assertEqual(usb_device.device_id(
            base.HOST, '046d', 'c52b', port_path='1-3'), device.id)

    def test_names_fall_back_to_the_udev_hardware_database(self):
        device, _ = self._scan_one(usbgen.Device(
            '1-3', '046d', 'c52b', 4, properties={
                'ID_VENDOR_FROM_DATABASE': 'Logitech, Inc.',
                'ID_MODEL_FROM_DATABASE': 'Unifying Receiver'}))

        self.assertEqual(('Logitech, Inc.', 'Unifying Receiver'),
                         (device.vendor_name, device.product_name))

    def test_device_strings_win_over_the_hardware_database(self):
        device, _ = self._scan_one(usbgen.Device(
            '1-3', '046d', 'c52b', 4, manufacturer='Logitech',
            product='USB Receiver', properties={
                'ID_VENDOR_FROM_DATABASE': 'Logitech, Inc.',
                'ID_MODEL_FROM_DATABASE': 'Unifying Receiver'}))

        self.assertEqual(('Logitech', 'USB Receiver'),
                         (device.vendor_name, device.product_name))

    def test_no_names_at_all(self):
        device, _ = self._scan_one(usbgen.Device('1-3', '1234', '5678', 4))

        self.assertEqual((None, None),
                         (device.vendor_name, device.product_name))

    def test_blank_strings_are_no_strings(self):
        device, _ = self._scan_one(usbgen.Device(
            '1-3', '1234', '5678', 4, serial='   ', manufacturer='',
            product=' \t'))

        self.assertEqual((None, None, None), (
            device.vendor_name, device.product_name, device.serial))
        self.assertEqual(usb_device.device_id(
            base.HOST, '1234', '5678', port_path='1-3'), device.id)

    def test_utf8_strings(self):
        # umockdev-record writes non-ASCII text as octal escapes.
        device, _ = self._scan_one(usbgen.Device(
            '1-3', '04a9', '31c0', 4, manufacturer='Canon "Japon"',
            product='Caméra numérique', serial='Nº7'))

        self.assertEqual(('Canon "Japon"', 'Caméra numérique', 'Nº7'), (
            device.vendor_name, device.product_name, device.serial))

    def test_strings_that_are_not_utf8(self):
        # Written as "H:" lines, the only form umockdev loads raw bytes
        # from; the bytes are kept readable as backslash escapes.
        device, devices = self._scan_one(usbgen.Device(
            '1-3', '1234', '5678', 4, manufacturer=b'ACME\xe9',
            product=b'\xff\xfe', serial=b'SN\x80\x81'))

        self.assertEqual(('ACME\\xe9', '\\xff\\xfe', 'SN\\x80\\x81'), (
            device.vendor_name, device.product_name, device.serial))
        self.assertEqual(usb_device.device_id(
            base.HOST, '1234', '5678', serial='SN\\x80\\x81'), device.id)
        self.assertEqual(2, len(devices))

    def test_udev_property_that_is_not_utf8(self):
        # udev rules and local hwdb files can set any bytes, and pyudev
        # decodes properties strictly. umockdev's text format cannot carry
        # such a property, so it is written into the uevent file.
        device = self.host.add(usbgen.Device('1-3', '1234', '5678', 4))
        self.testbed.add_from_string(self.host.recording())
        uevent = self.testbed.real_path(self.host.sys_path(device))
        with open(uevent + '/uevent', 'ab') as properties:
            properties.write(b'ID_VENDOR_FROM_DATABASE=ACME\xe9\n'
                             b'ID_MODEL_FROM_DATABASE=\xff\xfe\n')

        devices = self.scan()

        self.assertEqual(2, len(devices))
        self.assertEqual(('ACME\\xe9', '\\xff\\xfe'),
                         (devices[1].vendor_name, devices[1].product_name))

    def test_device_vanishing_while_read(self):
        device = self.host.add(usbgen.Device(
            '1-3', '1050', '0407', 4, serial='0001234'))
        self.testbed.add_from_string(self.host.recording())
        sys_path = self.host.sys_path(device)
        udev_device = self.udev_device(sys_path)

        self.testbed.remove_device(sys_path)

        self.assertIsNone(inventory.read_device(udev_device, base.HOST))
        self.assertEqual(['usb1'], [d.port_path for d in self.scan()])

    def test_incomplete_attributes_are_skipped(self):
        complete = usbgen.Device('1-1', '1050', '0407', 2, serial='ok')
        broken = [
            usbgen.Device('1-2', '1050', '0407', 3, omit=('idVendor',)),
            usbgen.Device('1-3', '1050', '0407', 4, omit=('idProduct',)),
            usbgen.Device('1-4', '1050', '0407', 5, omit=('busnum',)),
            usbgen.Device('2-1', '1050', '0407', 6, omit=('devnum',)),
            usbgen.Device('2-2', 'zz50', '0407', 7),
            usbgen.Device('2-3', '1050', '04070', 8),
        ]
        self.host = usbgen.Host.with_buses(1, 2, usb3=(2,))

        _, devices = self._scan_one(complete, broken)

        self.assertEqual(['usb1', '1-1', 'usb2'],
                         [d.port_path for d in devices])
        for device in broken:
            self.assertIsNone(inventory.read_device(
                self.udev_device(self.host.sys_path(device)), base.HOST))

    def test_missing_class_and_speed(self):
        device, _ = self._scan_one(usbgen.Device(
            '1-3', '1050', '0407', 4, omit=('bDeviceClass', 'speed')))

        self.assertEqual(('00', None), (device.device_class, device.speed))

    def test_three_hundred_devices(self):
        self.host = usbgen.populated_host(300, buses=(1, 2, 3))
        self.testbed.add_from_string(self.host.recording())

        devices = self.scan()

        self.assertEqual(303, len(devices))
        self.assertEqual(len(devices), len({d.id for d in devices}))
        self.assertEqual(devices, sorted(devices,
                                         key=usb_device.port_sort_key))
        read = self.by_port(devices)
        for written in self.host.devices:
            device = read[written.port_path]
            self.assertEqual(
                (written.vendor_id, written.product_id, written.serial,
                 written.bus, written.devnum, written.device_class,
                 self.host.sys_path(written)),
                (device.vendor_id, device.product_id, device.serial,
                 device.bus, device.devnum, device.device_class,
                 device.sys_path))
        self.assertEqual({1: 101, 2: 101, 3: 101},
                         collections.Counter(d.bus for d in devices))
        self.assertEqual(3, sum(d.is_root_hub for d in devices))
