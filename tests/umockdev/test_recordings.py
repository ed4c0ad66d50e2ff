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

"""Real hardware, as recorded by umockdev-record, enumerates as it should.

The expected values are read off the recordings by hand, so a change in
how sysfs or udev values are decoded shows up here.
"""

from nova_usb.virt import devspec
from nova_usb.virt import usb_device
from tests.umockdev import base
from tests.umockdev import recordings

# A rule that matches every device: only hubs may still be refused.
MATCH_ALL = (devspec.parse_device_spec(1, '{"all_devices": true}'),)


class TestRecordings(base.TestCase):

    def _check(self, name):
        self.testbed.add_from_file(base.recording(name))
        devices = self.scan()

        # Interfaces (usbkbd and fido2 record some) are not devices.
        self.assertEqual([e[0] for e in recordings.EXPECTED[name]],
                         [d.port_path for d in devices])
        for device, expected in zip(devices, recordings.EXPECTED[name]):
            (port, vendor, product, vendor_name, product_name, serial,
             devnum, speed, device_class, interfaces) = expected
            self.assertEqual(
                expected,
                (device.port_path, device.vendor_id, device.product_id,
                 device.vendor_name, device.product_name, device.serial,
                 device.devnum, device.speed, device.device_class,
                 device.interface_classes))
            self.assertEqual(base.HOST, device.host)
            self.assertEqual(1, device.bus)
            self.assertEqual(usb_device.device_id(
                base.HOST, vendor, product, serial=serial, port_path=port),
                device.id)
            self.assertEqual(port == 'usb1', device.is_root_hub)
            self.assertEqual(device_class == '09', device.is_hub)
            reason = devspec.unassignable_reason(MATCH_ALL, device)
            if device.is_root_hub:
                self.assertEqual(devspec.REASON_ROOT_HUB, reason)
            elif device.is_hub:
                self.assertEqual(devspec.REASON_HUB, reason)
            else:
                self.assertIsNone(reason)
                self.assertEqual(recordings.SYS_PATHS[name], device.sys_path)
        self.assertEqual(len(devices), len({d.id for d in devices}))

    def test_canon_camera_behind_two_hubs(self):
        self._check('canon-powershot-sx200')

    def test_sony_phone_behind_two_hubs(self):
        self._check('sony-xperia-mini-pro')

    def test_keyboard_with_its_own_hub(self):
        self._check('usbkbd')

    def test_fido2_key_on_xhci(self):
        self._check('fido2')
