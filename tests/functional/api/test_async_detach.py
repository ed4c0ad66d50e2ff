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

"""A detach answers 202 at once; the compute host detaches in the
background, the device is listed ``detaching`` meanwhile, and the
``usb_detach`` server action's event and the notifications tell how it
ended.

The guests here are fakelibvirt's (tests/functional/base.py): one that
takes its time is a detachDeviceFlags that waits, one that ignores the
unplug request is a live detachDeviceFlags that leaves the device in the
domain, as a guest that never releases a device makes libvirt do. Nova's
detach then gives up after [libvirt] device_detach_timeout ×
device_detach_attempts (1 s × 1 here).
"""

import threading
from unittest import mock

from nova_usb_sandbox import fakelibvirt_usb
from nova_usbclient import statuses
from tests.functional.api import base

LIVE = 1  # VIR_DOMAIN_AFFECT_LIVE


class AsyncDetachTestCase(base.UsbApiTestBase):

    def setUp(self):
        super().setUp()
        self.server = self._create_server(networks='none')
        self.other = self._create_server(networks='none')
        self.assertStatus(200, self.attach(self.server, self.key1))

    def status(self, role='member'):
        return {d['id']: d['status'] for d in
                self.server_devices(self.server, role).body['usb_devices']}

    def detach_event(self, server, role='member'):
        """The first usb_detach action's compute event; with its details
        for the admin (Nova's policy os_compute_api:os-instance-actions:
        events:details).
        """
        actions = self.request(role, 'GET',
                               '/servers/%s/os-instance-actions' %
                               server['id']).body['instanceActions']
        detach = [a for a in actions if a['action'] == 'usb_detach']
        events = self.request(
            role, 'GET', '/servers/%s/os-instance-actions/%s' % (
                server['id'], detach[-1]['request_id'])
        ).body['instanceAction']['events']
        self.assertEqual(['compute_usb_detach'], [e['event'] for e in events])
        return events[0]

    def test_the_answer_comes_before_the_guest_lets_go(self):
        original = fakelibvirt_usb.UsbDomain.detachDeviceFlags
        in_guest = threading.Event()
        let_go = threading.Event()

        def guest_takes_its_time(domain, xml, flags):
            if flags & LIVE:
                in_guest.set()
                let_go.wait(timeout=60)
            return original(domain, xml, flags)

        with mock.patch.object(fakelibvirt_usb.UsbDomain,
                               'detachDeviceFlags', guest_takes_its_time):
            self.assertStatus(202, self.detach(self.server, self.key1,
                                               wait=False))
            self.assertTrue(in_guest.wait(timeout=30))
            # Listed as what it is, to the member and the admin.
            self.assertEqual({self.key1: statuses.DETACHING}, self.status())
            self.assertEqual({self.key1: statuses.DETACHING},
                             self.status('admin'))
            shown = self.request('member', 'GET',
                                 '/servers/%s/os-usb-devices/%s' % (
                                     self.server['id'], self.key1))
            self.assertEqual((statuses.DETACHING, None),
                             (shown.body['usb_device']['status'],
                              shown.body['usb_device']['reason']))
            # Not detached twice, not given to another server meanwhile.
            self.assertStatus(409, self.detach(self.server, self.key1),
                              'is being detached')
            self.assertStatus(409, self.attach(self.other, self.key1),
                              'held by another server')
            event = self.detach_event(self.server)
            self.assertIsNone(event['finish_time'])
            # A member of another project learns nothing of it.
            for path in ('/os-usb-devices', '/os-usb-devices/' + self.key1,
                         '/os-instance-actions'):
                self.assertStatus(404, self.request(
                    'stranger', 'GET', '/servers/%s%s' % (
                        self.server['id'], path)))
            self.assertStatus(404, self.detach(self.server, self.key1,
                                               role='stranger'))
            let_go.set()
            self.wait_for_detach(self.key1)
        self.assertEqual({}, self.status())
        self.assertEqual('Success', self.detach_event(self.server)['result'])
        self.assertIsNone(self.host_device(self.key1)['server_id'])
        self.assertEqual((), self.requests(self.server).devices)

    def test_a_guest_that_ignores_the_unplug(self):
        before = self.snapshot(self.server)
        original = fakelibvirt_usb.UsbDomain.detachDeviceFlags

        def ignores_unplug(domain, xml, flags):
            if flags & LIVE:
                return None
            return original(domain, xml, flags)

        with mock.patch.object(fakelibvirt_usb.UsbDomain,
                               'detachDeviceFlags', ignores_unplug):
            self.assertStatus(202, self.detach(self.server, self.key1,
                                               wait=False))
            self.assertEqual({self.key1: statuses.DETACHING}, self.status())
            self.wait_for_detach(self.key1)
        self.assertEqual('Error', self.detach_event(self.server)['result'])
        event = self.detach_event(self.server, 'admin')
        self.assertEqual('Error', event['result'])
        self.assertIn('could not detach the USB device', event['details'])
        # Announced by the compute host that ended it.
        detach = [n for n in self.notifier.versioned_notifications
                  if n['event_type'].startswith('instance.usb_detach.')]
        self.assertEqual(
            ['instance.usb_detach.start', 'instance.usb_detach.error'],
            [n['event_type'] for n in detach])
        self.assertTrue(detach[1]['publisher_id'].startswith(
            'nova-compute:'), detach[1])
        payload = detach[1]['payload']['nova_object.data']
        self.assertEqual(
            (self.key1, '1050', 'UsbHostRefused'),
            (payload['device_id'], payload['vendor_id'],
             payload['exception']))
        # Still the server's, in its domain, and listed truthfully.
        self.assertEqual({self.key1: statuses.ATTACHED}, self.status())
        self.assertUnchanged(self.server, before)
        self.assertEqual(self.server['id'],
                         self.host_device(self.key1)['server_id'])
        # And a detach that the guest honours works afterwards.
        self.assertStatus(202, self.detach(self.server, self.key1))
        self.assertEqual({}, self.status())

    def test_the_compute_host_refuses_what_it_can_tell_at_once(self):
        # A device the server does not have: refused before any 202, and
        # recorded as the action's failed event.
        self.assertStatus(404, self.detach(self.server, self.key2),
                          'is not attached to this server')
        self.assertEqual([('usb_attach', [('compute_usb_attach', 'Success')]),
                          ('usb_detach', [('compute_usb_detach', 'Error')])],
                         self.actions(self.server)[1:])
