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

"""What a device says about itself reaches clients with its control
characters escaped, in every route that shows it.
"""

from tests.fixtures import usbgen
from tests.functional.api import base
from tests.functional import base as functional_base

# A token whose firmware strings would clear a terminal, colour it, start
# a new line and reverse the text after them; printable non-ASCII stays.
PORT = '1-7'
VENDOR = 'M\u00fcller \u00dc\r GmbH'
PRODUCT = 'Evil\x1b[2J\x1b[31mKey\nsecond line\u202egnp.exe'
SERIAL = 'SN\x07\x7f\x9b01'
SHOWN = {
    'vendor_name': 'M\u00fcller \u00dc\\r GmbH',
    'product_name': 'Evil\\x1b[2J\\x1b[31mKey\\nsecond line\\u202egnp.exe',
    'serial': 'SN\\x07\\x7f\\x9b01',
}


class DeviceStringsTestCase(base.UsbApiTestBase):

    @staticmethod
    def make_usb_host():
        host = functional_base.compute_host()
        host.add(usbgen.Device(PORT, functional_base.YUBICO, '0407',
                               devnum=20, serial=SERIAL, manufacturer=VENDOR,
                               product=PRODUCT, speed='12',
                               interfaces=('03',)))
        return host

    def shown(self, device):
        return {field: device[field] for field in SHOWN}

    def test_control_characters_are_escaped(self):
        evil = self.device_id(PORT)
        # The compute host reads the strings as the device gives them...
        self.assertEqual(
            (PRODUCT, SERIAL),
            (self.host_device(evil)['product_name'],
             self.host_device(evil)['serial']))

        # ... and every route shows them escaped.
        listed = {d['id']: d for d in self.host_devices().body['usb_devices']}
        self.assertEqual(SHOWN, self.shown(listed[evil]))
        self.assertEqual(SHOWN, self.shown(self.request(
            'admin', 'GET', '/os-usb-devices/%s' % evil).body['usb_device']))
        self.assertEqual(SHOWN, self.shown(self.request(
            'admin', 'GET', '/os-usb-devices/%s?host=compute1' % evil
        ).body['usb_device']))
        server = self._create_server(networks='none')
        available = {d['id']: d for d in self.server_devices(
            server, 'reader', '?available=true').body['usb_devices']}
        self.assertEqual(SHOWN, self.shown(available[evil]))
        self.assertEqual(SHOWN, self.shown(self.assertStatus(
            200, self.attach(server, evil)).body['usb_device']))
        for role in ('reader', 'admin'):
            self.assertEqual([SHOWN], [self.shown(d) for d in (
                self.server_devices(server, role).body['usb_devices'])])
            self.assertEqual(SHOWN, self.shown(self.request(
                role, 'GET', '/servers/%s/os-usb-devices/%s' % (
                    server['id'], evil)).body['usb_device']))

        # Strings without control characters are shown as they are.
        self.assertEqual(
            ('Yubico', 'YubiKey OTP+FIDO+CCID', 'YK0001', '1-1.1',
             ['03', '0b']),
            tuple(listed[self.key1][f] for f in (
                'vendor_name', 'product_name', 'serial', 'port_path',
                'interface_classes')))
