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

import uuid

from oslotest import base

from nova_usb.virt import usb_device
from tests.unit import fakes


class DeviceIdTestCase(base.BaseTestCase):

    def test_ids_are_uuids(self):
        device_id = usb_device.device_id('h', '1050', '0407', serial='S')
        self.assertEqual(device_id, str(uuid.UUID(device_id)))

    def test_serial_identity_ignores_port(self):
        self.assertEqual(
            usb_device.device_id('h', '1050', '0407', 'S', '1-1'),
            usb_device.device_id('h', '1050', '0407', 'S', '2-4.1'))

    def test_port_identity_without_serial(self):
        at_1 = usb_device.device_id('h', '1050', '0407', None, '1-1')
        self.assertEqual(at_1, usb_device.device_id('h', '1050', '0407',
                                                    None, '1-1'))
        self.assertNotEqual(at_1, usb_device.device_id('h', '1050', '0407',
                                                       None, '1-2'))

    def test_every_part_counts(self):
        ids = {usb_device.device_id(*parts) for parts in [
            ('h', '1050', '0407', 'S', None),
            ('h2', '1050', '0407', 'S', None),
            ('h', '1051', '0407', 'S', None),
            ('h', '1050', '0408', 'S', None),
            ('h', '1050', '0407', 'S2', None),
            ('h', '1050', '0407', None, 'S'),
        ]}
        self.assertEqual(6, len(ids))


class WithIdsTestCase(base.BaseTestCase):

    def test_identical_tokens_with_serials(self):
        a = fakes.host_usb_device(serial='A', port_path='1-1', devnum=2)
        b = fakes.host_usb_device(serial='B', port_path='1-2', devnum=3)
        named = usb_device.with_ids([a, b])
        self.assertNotEqual(named[0].id, named[1].id)
        self.assertEqual(usb_device.device_id('compute-1', '1050', '0407',
                                              serial='A'), named[0].id)

    def test_duplicate_serials_fall_back_to_ports(self):
        a = fakes.host_usb_device(serial='0000', port_path='1-1')
        b = fakes.host_usb_device(serial='0000', port_path='1-2')
        other = fakes.host_usb_device(serial='0000', product_id='0001',
                                      port_path='1-3')
        named = usb_device.with_ids([a, b, other])
        self.assertEqual(
            [usb_device.device_id('compute-1', '1050', '0407',
                                  port_path='1-1'),
             usb_device.device_id('compute-1', '1050', '0407',
                                  port_path='1-2'),
             usb_device.device_id('compute-1', '1050', '0001',
                                  serial='0000')],
            [d.id for d in named])

    def test_devnum_is_not_identity(self):
        before = usb_device.with_ids([fakes.host_usb_device(devnum=4)])
        after = usb_device.with_ids([fakes.host_usb_device(devnum=9)])
        self.assertEqual(before[0].id, after[0].id)


class HostUsbDeviceTestCase(base.BaseTestCase):

    def test_hubs(self):
        self.assertTrue(fakes.host_usb_device(device_class='09').is_hub)
        self.assertTrue(fakes.host_usb_device(is_root_hub=True).is_hub)
        self.assertFalse(fakes.host_usb_device(device_class='03').is_hub)

    def test_a_hub_interface_makes_a_hub(self):
        # A composite device (class 00, its interfaces say) with a hub
        # among its interfaces.
        composite = fakes.host_usb_device(device_class='00',
                                          interface_classes=('03', '09'))
        self.assertTrue(composite.is_hub)
        self.assertTrue(composite.to_dict()['is_hub'])
        self.assertFalse(fakes.host_usb_device(
            device_class='00', interface_classes=('03', '0b')).is_hub)

    def test_to_dict_hides_sysfs_path(self):
        device = usb_device.with_ids([fakes.host_usb_device()])[0]
        description = device.to_dict()
        self.assertNotIn('sys_path', description)
        self.assertEqual(device.id, description['id'])
        self.assertEqual(['03', '0b'], description['interface_classes'])
        self.assertFalse(description['is_hub'])

    def test_port_order(self):
        paths = ['usb2', '2-1', '1-10', '1-2.1', 'usb1', '1-2']
        devices = [fakes.host_usb_device(port_path=p,
                                         bus=int(p.strip('usb')[0]))
                   for p in paths]
        self.assertEqual(['usb1', '1-2', '1-2.1', '1-10', 'usb2', '2-1'],
                         [d.port_path for d in sorted(
                             devices, key=usb_device.port_sort_key)])
