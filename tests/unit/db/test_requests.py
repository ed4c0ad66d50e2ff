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

import dataclasses

from oslotest import base

from nova_usb.db import requests
from nova_usb import exception


def device(n, model=None):
    # A bank token's interfaces (HID, CCID), as an attach records them.
    return requests.DeviceRequest(
        id='6e9a62a4-ea8d-50bb-b74d-%012d' % n, vendor_id='1050',
        product_id='%04x' % n, controller_model=model,
        interface_classes=('03', '0b'))


def many(devices=16, controllers=4):
    return requests.UsbRequests(
        devices=tuple(device(n, 'qemu-xhci' if n % 2 else None)
                      for n in range(devices)),
        controllers=tuple(requests.ControllerRequest(n + 1, 'qemu-xhci', 15)
                          for n in range(controllers)))


class StoreLoadTestCase(base.BaseTestCase):

    def test_empty(self):
        sysmeta = {'image_base_image_ref': 'x'}
        self.assertEqual(requests.UsbRequests(), requests.load(sysmeta))
        requests.store(sysmeta, requests.UsbRequests())
        self.assertEqual({'image_base_image_ref': 'x'}, sysmeta)

    def test_round_trip_of_16_devices_and_4_controllers(self):
        sysmeta = {'other': 'kept'}
        wanted = many()
        requests.store(sysmeta, wanted)
        self.assertEqual(wanted, requests.load(sysmeta))
        self.assertEqual('kept', sysmeta['other'])
        self.assertTrue(all(len(v) <= requests.MAX_VALUE_LENGTH
                            for v in sysmeta.values()))
        # It really needed several chunks.
        self.assertIn(requests.DEVICES_KEY + '.3', sysmeta)

    def test_chunks_are_named_after_the_key(self):
        sysmeta = {}
        requests.store(sysmeta, many(devices=16, controllers=1))
        device_keys = sorted(k for k in sysmeta
                             if k.startswith(requests.DEVICES_KEY))
        self.assertEqual(
            [requests.DEVICES_KEY] +
            ['%s.%d' % (requests.DEVICES_KEY, n)
             for n in range(1, len(device_keys))],
            sorted(device_keys, key=lambda k: (len(k), k)))
        self.assertEqual({requests.CONTROLLERS_KEY},
                         {k for k in sysmeta
                          if k.startswith(requests.CONTROLLERS_KEY)})

    def test_shrinking_removes_stale_chunks(self):
        sysmeta = {}
        requests.store(sysmeta, many(devices=16))
        requests.store(sysmeta, many(devices=1, controllers=0))
        self.assertEqual({requests.DEVICES_KEY}, set(sysmeta))
        self.assertEqual(many(devices=1, controllers=0),
                         requests.load(sysmeta))
        requests.store(sysmeta, requests.UsbRequests())
        self.assertEqual({}, sysmeta)

    def test_optional_fields_are_not_stored(self):
        sysmeta = {}
        requests.store(sysmeta, requests.UsbRequests(
            devices=(device(1),),
            controllers=(requests.ControllerRequest(1, 'ehci'),)))
        self.assertNotIn('controller_model',
                         sysmeta[requests.DEVICES_KEY])
        self.assertEqual('[{"index":1,"model":"ehci"}]',
                         sysmeta[requests.CONTROLLERS_KEY])

    def test_corrupt_values_are_errors_not_empty(self):
        for value in ('[{"id": "x"', '{"id": "x"}', '[1]',
                      '[{"id": "x", "vendor_id": "1", "product_id": "2", '
                      '"unknown": 1}]'):
            error = self.assertRaises(
                exception.CorruptUsbRequests, requests.load,
                {requests.DEVICES_KEY: value})
            self.assertIn(requests.DEVICES_KEY, str(error))

    def test_a_lost_middle_chunk_is_an_error(self):
        sysmeta = {}
        requests.store(sysmeta, many())
        del sysmeta[requests.DEVICES_KEY + '.1']
        self.assertRaises(exception.CorruptUsbRequests, requests.load,
                          sysmeta)


class UsbRequestsTestCase(base.BaseTestCase):

    def test_add_and_remove(self):
        empty = requests.UsbRequests()
        one = empty.with_device(device(1)).with_controller(
            requests.ControllerRequest(1, 'ehci'))
        self.assertEqual(device(1), one.device(device(1).id))
        self.assertIsNone(one.device(device(2).id))
        self.assertEqual('ehci', one.controller(1).model)
        self.assertIsNone(one.controller(2))
        self.assertEqual(empty, one.without_device(device(1).id)
                         .without_controller(1))
        self.assertEqual((), empty.devices)

    def test_allocated_devices_are_replaced_as_a_whole(self):
        by_flavor = dataclasses.replace(device(1), allocated=True)
        moved = dataclasses.replace(device(3), allocated=True)
        current = requests.UsbRequests().with_device(
            device(2)).with_device(by_flavor)
        self.assertEqual((device(2), moved),
                         current.with_allocated([moved]).devices)
        self.assertEqual((device(2),), current.with_allocated([]).devices)

    def test_allocated_is_stored_and_read_back(self):
        sysmeta = {}
        wanted = requests.UsbRequests(devices=(
            dataclasses.replace(device(1), allocated=True), device(2)))
        requests.store(sysmeta, wanted)
        self.assertEqual(wanted, requests.load(sysmeta))
        self.assertIn('"allocated":true', sysmeta[requests.DEVICES_KEY])

    def test_interface_classes_are_stored_and_read_back(self):
        sysmeta = {}
        wanted = requests.UsbRequests(devices=(dataclasses.replace(
            device(1), interface_classes=('0b', '03')),))
        requests.store(sysmeta, wanted)
        self.assertIn('"interface_classes":["03","0b"]',
                      sysmeta[requests.DEVICES_KEY])
        loaded = requests.load(sysmeta)
        self.assertEqual(wanted, loaded)
        self.assertEqual(('03', '0b'),
                         loaded.devices[0].interface_classes)

    def test_no_interface_is_a_record_too(self):
        sysmeta = {}
        requests.store(sysmeta, requests.UsbRequests(devices=(
            dataclasses.replace(device(1), interface_classes=()),)))
        self.assertIn('"interface_classes":[]',
                      sysmeta[requests.DEVICES_KEY])
        self.assertEqual((), requests.load(sysmeta).devices[0]
                         .interface_classes)

    def test_requests_stored_before_interface_classes_read_as_unknown(self):
        sysmeta = {requests.DEVICES_KEY: (
            '[{"id":"6e9a62a4-ea8d-50bb-b74d-000000000001",'
            '"product_id":"0001","vendor_id":"1050"}]')}
        self.assertIsNone(requests.load(sysmeta).devices[0]
                          .interface_classes)

    def test_interface_classes_that_are_no_list_are_corrupt(self):
        for value in ('"030b"', '[3]', '{"03": 1}'):
            self.assertRaises(
                exception.CorruptUsbRequests, requests.load,
                {requests.DEVICES_KEY: (
                    '[{"id":"x","vendor_id":"1050","product_id":"0001",'
                    '"interface_classes":%s}]' % value)})
