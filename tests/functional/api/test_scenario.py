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

"""The use cases end to end through HTTP, as a member of the server's
project and an operator would run them.
"""

import threading

import nova.conf

from nova_usb.virt import guest as usb_guest
from tests.functional.api import base
from tests.functional import test_attach_detach as helpers

CONF = nova.conf.CONF


class ScenarioTestCase(base.UsbApiTestBase):

    def test_list_attach_hot_and_cold_reboot_detach(self):
        # Use case 1: the operator lists the host's devices.
        devices = {d['id']: d for d in
                   self.host_devices().body['usb_devices']}
        self.assertEqual((True, None, None), (
            devices[self.key1]['assignable'], devices[self.key1]['reason'],
            devices[self.key1]['server_id']))
        hub = devices[self.device_id('1-1')]
        self.assertFalse(hub['assignable'])
        self.assertIn('hubs are never assignable', hub['reason'])
        self.assertIn('device_spec',
                      devices[self.device_id('1-3')]['reason'])
        shown = self.request('admin', 'GET', '/os-usb-devices/%s' %
                             self.key1).body['usb_device']
        self.assertEqual(devices[self.key1], shown)

        # Use case 2: hot plug into the running server, cold into the
        # stopped one, effective at start; a hard reboot keeps both.
        server = self._create_server(networks='none')
        self.assertStatus(200, self.attach(server, self.key1))
        self.assertEqual({self.alias(self.key1)},
                         set(helpers.hostdevs(self.live_xml(server))))
        server = self._stop_server(server)
        self.assertStatus(200, self.attach(server, self.dongle))
        self.assertEqual(
            [(self.key1, 'attached'), (self.dongle, 'attached')],
            [(d['id'], d['status']) for d in
             self.server_devices(server).body['usb_devices']])
        server = self._start_server(server)
        wanted = {self.alias(self.key1), self.alias(self.dongle)}
        self.assertEqual(wanted, set(helpers.hostdevs(self.live_xml(server))))
        self._reboot_server(server, hard=True)
        self.assertEqual(wanted, set(helpers.hostdevs(self.live_xml(server))))
        holders = {d['id']: d['server_id']
                   for d in self.host_devices().body['usb_devices']}
        self.assertEqual((server['id'], server['id']),
                         (holders[self.key1], holders[self.dongle]))

        # Use case 3: detach both.
        self.assertStatus(202, self.detach(server, self.key1))
        self.assertStatus(202, self.detach(server, self.dongle))
        self.assertEqual({}, helpers.hostdevs(self.live_xml(server)))
        self.assertEqual([], self.server_devices(server).body['usb_devices'])
        self.assertIsNone(self.request(
            'admin', 'GET', '/os-usb-devices/%s?host=compute1' % self.key1
        ).body['usb_device']['server_id'])

        # Each change is a server action the project sees, with its event,
        # and was announced.
        usb_actions = [a for a in self.actions(server, 'reader')
                       if a[0].startswith('usb_')]
        self.assertEqual(
            [('usb_attach', [('compute_usb_attach', 'Success')])] * 2 +
            [('usb_detach', [('compute_usb_detach', 'Success')])] * 2,
            usb_actions)
        self.assertEqual(
            ['instance.usb_attach.start', 'instance.usb_attach.end'] * 2 +
            ['instance.usb_detach.start', 'instance.usb_detach.end'] * 2,
            [n[0] for n in self.usb_notifications()])
        end = self.usb_notifications()[1]
        self.assertEqual('nova-api:%s' % CONF.host, next(
            n['publisher_id'] for n in self.notifier.versioned_notifications
            if n['event_type'] == 'instance.usb_attach.end'))
        self.assertEqual(
            {'instance_uuid': server['id'], 'device_id': self.key1,
             'vendor_id': '1050', 'product_id': '0407', 'host': 'compute1',
             'exception': None},
            {k: end[2]['nova_object.data'][k] for k in (
                'instance_uuid', 'device_id', 'vendor_id', 'product_id',
                'host', 'exception')})

    def test_identical_tokens_on_two_servers(self):
        first = self._create_server(networks='none')
        second = self._create_server(networks='none')
        self.assertStatus(200, self.attach(first, self.key1))
        self.assertStatus(200, self.attach(second, self.key2))
        # Same vendor:product; libvirt tells them apart by bus/device.
        self.assertEqual([('0x1050', '0x0407', '1', '3')], [
            v[:4] for v in helpers.hostdevs(self.live_xml(first)).values()])
        self.assertEqual([('0x1050', '0x0407', '1', '4')], [
            v[:4] for v in helpers.hostdevs(self.live_xml(second)).values()])
        serials = {d['serial']: d['server_id']
                   for d in self.host_devices().body['usb_devices']
                   if d['vendor_id'] == '1050'}
        self.assertEqual({'YK0001': first['id'], 'YK0002': second['id']},
                         serials)

    def test_parallel_attaches_of_one_device(self):
        """One device asked for by six requests at once, for three
        servers: one wins, the five others are told why not.
        """
        servers = [self._create_server(networks='none') for _ in range(3)]
        start = threading.Barrier(6)
        responses = []

        def attach(server):
            start.wait()
            responses.append(self.attach(server, self.key1))

        threads = [threading.Thread(target=attach, args=(s,))
                   for s in servers * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual([200] + [409] * 5,
                         sorted(r.status for r in responses))
        for response in responses:
            if response.status == 409:
                self.assertRegex(response.message,
                                 'held by another server|already attached')
        holders = self.computes['compute1'].driver.usb.claims.snapshot()
        winner = [s for s in servers if self.requests(s).devices]
        self.assertEqual(1, len(winner))
        self.assertEqual(winner[0]['id'], holders[self.key1])
        self.assertEqual({self.alias(self.key1)},
                         set(helpers.hostdevs(self.live_xml(winner[0]))))

    @staticmethod
    def alias(device_id):
        return usb_guest.device_alias(device_id)
