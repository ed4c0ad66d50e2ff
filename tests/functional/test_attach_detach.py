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

from lxml import etree

from nova_usb.virt import manager as usb_manager
from tests.functional import base


def hostdevs(domain_xml):
    """alias -> (vendor, product, bus, device, guest bus, guest port)."""
    found = {}
    for element in etree.fromstring(domain_xml).iterfind(
            "devices/hostdev[@type='usb']"):
        source = element.find('source')
        address = element.find('address')
        found[element.find('alias').get('name')] = (
            source.find('vendor').get('id'), source.find('product').get('id'),
            source.find('address').get('bus'),
            source.find('address').get('device'),
            None if address is None else address.get('bus'),
            None if address is None else address.get('port'))
    return found


class AttachDetachTestCase(base.UsbServersTestBase):

    def setUp(self):
        super().setUp()
        self.start_compute('compute1')
        self.key1 = self.device_id('1-1.1')
        self.key2 = self.device_id('1-1.2')
        self.dongle = self.device_id('1-2')

    def test_hot_attach_then_hard_reboot_keeps_it(self):
        server = self._create_server(networks='none')
        attached = self.attach(server, self.key1)
        self.assertEqual(server['id'], attached['server_id'])
        alias = usb_manager.device_alias(self.key1)
        self.assertEqual(('0x1050', '0x0407', '1', '3'),
                         hostdevs(self.live_xml(server))[alias][:4])
        self.assertIn(alias, hostdevs(self.config_xml(server)))
        self.assertEqual([self.key1],
                         [r.id for r in self.requests(server).devices])
        self.assertEqual({self.key1: 'attached'},
                         self.server_devices(server))

        self._reboot_server(server, hard=True)
        self.assertIn(alias, hostdevs(self.live_xml(server)))
        self.assertEqual(server['id'],
                         self.host_device(self.key1)['server_id'])

    def test_cold_attach_takes_effect_at_start(self):
        server = self._create_server(networks='none')
        server = self._stop_server(server)
        self.attach(server, self.dongle)
        alias = usb_manager.device_alias(self.dongle)
        self.assertNotIn(alias, hostdevs(self.config_xml(server)))
        self._start_server(server)
        self.assertEqual(('0x0529', '0x0001', '1', '5'),
                         hostdevs(self.live_xml(server))[alias][:4])

    def test_detach_live(self):
        server = self._create_server(networks='none')
        self.attach(server, self.key1)
        self.detach(server, self.key1)
        self.assertEqual({}, hostdevs(self.live_xml(server)))
        self.assertEqual({}, hostdevs(self.config_xml(server)))
        self.assertEqual((), self.requests(server).devices)
        self.assertIsNone(self.host_device(self.key1)['server_id'])
