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

"""The ctypes testbed and the recording generator the other tests rely on.

If these are wrong, the other tests prove nothing, so what they promise
(umockdev's errors as exceptions, no process abort, cleanup, the text
format umockdev accepts) is checked here.
"""

import os

from nova_usb_sandbox import umockdev as testbed
from tests.fixtures import usbgen
from tests.umockdev import base


class TestTestbed(base.TestCase):

    def test_preloaded(self):
        self.assertTrue(testbed.is_preloaded())
        self.assertTrue(os.path.isdir(os.path.join(self.testbed.sys_dir,
                                                   'bus')))

    def test_umockdev_error_message_is_raised(self):
        error = self.assertRaises(
            testbed.TestbedError, self.testbed.add_from_string,
            'P: /nodevices/x\nE: SUBSYSTEM=usb\n')

        self.assertEqual("invalid device path '/nodevices/x': must start "
                         "with /devices/", str(error))

    def test_raw_bytes_that_are_not_utf8_are_rejected(self):
        # Why usbgen writes such values as "H:" lines: umockdev refuses
        # the whole recording (with a misleading message) and adds nothing.
        host = usbgen.Host.with_buses(1)
        host.add(usbgen.Device('1-2', '1050', '0407', 2,
                               properties={'ID_MODEL': 'Cam\xe9ra'}))

        self.assertRaises(testbed.TestbedError, self.testbed.add_from_string,
                          host.recording().encode('latin-1'))
        self.assertEqual([], self.scan())

    def test_existing_device_is_refused_not_aborted(self):
        self.testbed.add_from_file(base.recording('canon-powershot-sx200'))

        error = self.assertRaises(
            testbed.TestbedError, self.testbed.add_from_file,
            base.recording('sony-xperia-mini-pro'))

        self.assertIn('/devices/pci0000:00/0000:00:1a.0', str(error))
        self.assertEqual(5, len(self.scan()))

    def test_same_device_node_is_refused(self):
        host = usbgen.Host.with_buses(1)
        host.add(usbgen.Device('1-2', '1050', '0407', 2))
        self.testbed.add_from_string(host.recording())

        self.assertRaises(
            testbed.TestbedError, self.testbed.add_from_string,
            host.recording([usbgen.Device('1-3', '1050', '0407', 2)]))

    def test_add_devicev(self):
        sys_path = self.testbed.add_devicev(
            'usb', 'pci0000:00/0000:00:14.0/usb1',
            attributes=[('idVendor', '1d6b'), ('idProduct', '0002'),
                        ('busnum', '1'), ('devnum', '1')],
            properties=[('DEVTYPE', 'usb_device')])

        self.assertEqual('/sys/devices/pci0000:00/0000:00:14.0/usb1',
                         sys_path)
        devices = self.scan()
        self.assertEqual([('usb1', '1d6b', '0002', True)],
                         [(d.port_path, d.vendor_id, d.product_id,
                           d.is_root_hub) for d in devices])

    def test_unknown_device_is_refused(self):
        missing = '/sys/devices/pci0000:00/0000:00:14.0/usb1/1-9'

        self.assertRaises(testbed.TestbedError, self.testbed.remove_device,
                          missing)
        self.assertRaises(testbed.TestbedError, self.testbed.uevent,
                          missing, 'add')

    def test_cleanup_removes_the_tree(self):
        root = self.testbed.root_dir

        self.reboot()

        self.assertFalse(os.path.exists(root))
        self.assertNotEqual(root, self.testbed.root_dir)
        self.assertTrue(os.path.isdir(self.testbed.root_dir))

    def test_generated_text_format(self):
        device = usbgen.Device('1-2.3', '1050', '0407', 5, serial='S"1',
                               product=b'\xff\xfe', manufacturer='Yubicö')

        record = usbgen.device_record(device, '0000:00:14.0').splitlines()

        self.assertEqual(
            'P: /devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2.3', record[0])
        self.assertEqual('N: bus/usb/001/005', record[1])
        for line in ('E: DEVNAME=/dev/bus/usb/001/005',
                     'E: DEVTYPE=usb_device', 'E: ID_USB_INTERFACES=:ff0000:',
                     'A: busnum=1\\n', 'A: devnum=5\\n', 'A: devpath=2.3\\n',
                     'A: idVendor=1050\\n', 'A: serial=S\\"1\\n',
                     'A: manufacturer=Yubic\\303\\266\\n',
                     'H: product=FFFE'):
            self.assertIn(line, record)
