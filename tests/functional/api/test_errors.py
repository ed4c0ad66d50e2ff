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

"""Every refusal through HTTP: its code, a message a person can act on, and
nothing changed on the server.
"""

from nova.compute import task_states
from nova.compute import vm_states
from oslo_utils import uuidutils

from tests.functional.api import base


class StatesTestCase(base.UsbApiTestBase):

    def test_state_table(self):
        server = self._create_server(networks='none')
        self.assertStatus(200, self.attach(server, self.dongle))
        # Refused by nova-api itself: no action recorded, no notification.
        actions_before = self.actions(server)
        self.notifier.reset()
        before = self.snapshot(server)
        forbidden = [
            (vm_states.SUSPENDED, None), (vm_states.RESCUED, None),
            (vm_states.RESIZED, None), (vm_states.ERROR, None),
            (vm_states.BUILDING, None), (vm_states.SHELVED, None),
            (vm_states.ACTIVE, task_states.REBOOTING),
            (vm_states.STOPPED, task_states.POWERING_ON),
        ]
        for vm_state, task_state in forbidden:
            self.set_state(server, vm_state, task_state)
            for response in (self.attach(server, self.key1),
                             self.detach(server, self.dongle),
                             self.add_controller(server, 'ehci'),
                             self.remove_controller(server, 1)):
                self.assertStatus(409, response, 'vm_state %s, task_state '
                                  '%s' % (vm_state, task_state))
            # Reading is never refused.
            self.assertEqual([self.dongle], [d['id'] for d in (
                self.server_devices(server, 'reader').body['usb_devices'])])
        self.set_state(server, vm_states.ACTIVE, None)
        self.assertUnchanged(server, before)
        self.assertEqual(actions_before, self.actions(server))
        self.assertEqual([], self.usb_notifications())

        # Controllers only while stopped: libvirt cannot hot-plug them.
        self.assertStatus(409, self.add_controller(server, 'ehci'),
                          'Cannot add a USB controller while the server is '
                          'in vm_state active')

        # Shelved offloaded: on no host; its devices are listed, missing.
        self.set_state(server, vm_states.SHELVED_OFFLOADED, None, host=None)
        self.assertEqual([(self.dongle, 'missing')], [
            (d['id'], d['status']) for d in
            self.server_devices(server, 'reader').body['usb_devices']])
        self.assertEqual([], self.server_devices(
            server, 'reader', '?available=true').body['usb_devices'])
        self.assertStatus(409, self.attach(server, self.key1),
                          'shelved_offloaded')

    def test_locked_server(self):
        server = self._create_server(networks='none')
        self.api.post_server_action(server['id'], {'lock': {}})
        before = self.snapshot(server)
        self.assertStatus(409, self.attach(server, self.key1),
                          'is locked')
        self.assertUnchanged(server, before)
        # An admin overrides the lock, as everywhere in Nova.
        self.assertStatus(200, self.attach(server, self.key1, 'admin'))
        self.assertStatus(409, self.detach(server, self.key1), 'is locked')
        server = self._stop_server(server)
        self.assertStatus(409, self.add_controller(server, 'ehci'),
                          'is locked')
        self.assertStatus(202, self.detach(server, self.key1, 'admin'))

    def set_state(self, server, vm_state, task_state, **values):
        instance = self.instance(server)
        instance.vm_state = vm_state
        instance.task_state = task_state
        for name, value in values.items():
            setattr(instance, name, value)
        instance.save()


class MalformedRequestsTestCase(base.UsbApiTestBase):

    def test_bad_requests_and_unknown_things(self):
        server = self._create_server(networks='none')
        before = self.snapshot(server)
        path = '/servers/%s/os-usb-devices' % server['id']
        for raw in ('not json', '[]', '{}', '{"usb_device": null}',
                    '{"usb_device": {}}', '{"usb_device": {"id": ""}}',
                    '{"usb_device": {"id": 7}}',
                    '{"usb_device": {"id": "%s"}}' % ('x' * 256),
                    '{"usb_device": {"id": "no-such-device"}}',
                    '{"usb_device": {"id": "a", "bus": 1}}',
                    '{"usb_device": {"id": "a"}, "more": 1}',
                    '{"usb_device": {"id": "a", "controller_model": 3}}'):
            self.assertStatus(400, self.request('member', 'POST', path,
                                                raw=raw))
        self.assertStatus(400, self.attach(server, self.key1,
                                           controller_model='usb4'),
                          "Unknown USB controller model 'usb4'; known "
                          "models: ehci, ich9-ehci1, nec-xhci")
        self.assertStatus(400, self.server_devices(
            server, query='?available=maybe'))
        self.assertStatus(400, self.server_devices(server, query='?x=1'))
        self.assertStatus(400, self.request('admin', 'GET',
                                            '/os-usb-devices'),
                          "'host' is a required property")
        self.assertStatus(400, self.add_controller(server, 'usb4'),
                          'known models')
        self.assertStatus(400, self.add_controller(server, 'ehci', 4),
                          'has 6 ports; its port count cannot be set')
        self.assertStatus(400, self.add_controller(server, 'qemu-xhci', 16))

        # Unknown or invisible things.
        self.assertStatus(404, self.attach(
            {'id': uuidutils.generate_uuid()}, self.key1))
        self.assertStatus(404, self.attach({'id': 'not-a-server'},
                                           self.key1))
        unknown = self.device_id('1-1.1', host='nohost')
        self.assertStatus(404, self.attach(server, unknown),
                          "USB device %s is not on the server's host" %
                          unknown)
        self.assertStatus(404, self.attach(server, unknown, 'admin'),
                          'USB device %s was not found on any compute host'
                          % unknown)
        self.assertStatus(404, self.detach(server, self.key1),
                          'is not attached to this server')
        self.assertStatus(404, self.request(
            'reader', 'GET', '/servers/%s/os-usb-devices/%s' % (
                server['id'], self.key1)), 'is not attached')
        self.assertStatus(404, self.request(
            'admin', 'GET', '/os-usb-devices?host=nohost'),
            'Compute host nohost could not be found')
        self.assertStatus(404, self.request(
            'admin', 'GET', '/os-usb-devices/%s' % unknown),
            'not found on any compute host')
        self.assertStatus(404, self.request(
            'admin', 'GET', '/os-usb-devices/%s?host=compute1' % unknown),
            'is not on host compute1')
        self.assertStatus(404, self.request(
            'admin', 'GET', '/os-usb-devices/no-such-device'),
            'No USB device has the id no-such-device')
        self.assertUnchanged(server, before)
        server = self._stop_server(server)
        before = self.snapshot(server)
        for index in ('0', '1', 'abc', '-1', '99999'):
            self.assertStatus(404, self.remove_controller(server, index),
                              'was not added through nova-usb')
        self.assertUnchanged(server, before)


class ComputeRefusalsTestCase(base.UsbApiTestBase):
    """Refusals decided by the compute host: each a server action with a
    failed event and an instance.usb_*.error notification.
    """

    def test_device_refusals(self):
        self.start_compute('compute2')
        server = self._create_server(networks='none', host='compute1')
        other = self._create_server(networks='none', host='compute1')
        self.assertStatus(200, self.attach(other, self.key1))
        self.assertStatus(200, self.attach(server, self.key2))
        before = self.snapshot(server)
        self.notifier.reset()
        refusals = [
            (self.key1, 'is held by another server'),
            (self.key2, 'is already attached to this server'),
        ]
        for device_id, fragment in refusals:
            self.assertStatus(409, self.attach(server, device_id), fragment)
        # Devices granted to no project (a hub, one device_spec leaves
        # out): to a member, as unknown as a device of another host; an
        # admin learns why.
        for device_id, reason in (
                (self.device_id('1-1'), 'hub'),
                (self.device_id('1-3'), 'not matched by [usb] device_spec')):
            self.assertStatus(404, self.attach(server, device_id),
                              "is not on the server's host")
            self.assertStatus(409, self.attach(server, device_id, 'admin'),
                              reason)
        # A device of another host: 404 for a project member (whom
        # nova-api does not tell which devices other hosts have), 409 for
        # an admin.
        self.assertStatus(404, self.attach(
            server, self.device_id('1-1.1', host='compute2')),
            "is not on the server's host")
        self.assertStatus(409, self.attach(
            server, self.device_id('1-1.1', host='compute2'), 'admin'),
            'is on another compute host than the server')
        # An admin learns which server holds it.
        self.assertStatus(409, self.attach(server, self.key1, 'admin'),
                          'is held by server %s' % other['id'])
        self.assertStatus(409, self.attach(server, self.dongle,
                                           controller_model='ehci'),
                          'no ehci USB controller. Stop the server')
        self.assertUnchanged(server, before)

        events = [e for _, e in self.actions(server)[-10:]]
        self.assertEqual([[('compute_usb_attach', 'Error')]] * 10, events)
        notifications = self.usb_notifications()
        self.assertEqual(
            [('instance.usb_attach.start', 'INFO'),
             ('instance.usb_attach.error', 'ERROR')] * 10,
            [n[:2] for n in notifications])
        error = notifications[1][2]['nova_object.data']
        self.assertEqual((server['id'], 'UsbDeviceHeldElsewhere', 409), (
            error['instance_uuid'], error['exception'], error['http_code']))
        hub = notifications[5][2]['nova_object.data']
        self.assertEqual(('UsbDeviceNotOnServerHost', 404),
                         (hub['exception'], hub['http_code']))

    def test_port_and_controller_refusals(self):
        server = self._create_server(networks='none')
        # Nova's controller has two ports here, one taken by its tablet.
        self.assertStatus(200, self.attach(server, self.dongles[0]))
        self.assertStatus(409, self.attach(server, self.dongles[1]),
                          'No free USB port for the device')
        server = self._stop_server(server)
        for _ in range(4):
            self.assertStatus(200, self.add_controller(server, 'ehci'))
        self.assertStatus(409, self.add_controller(server, 'ehci'),
                          'at most 4 USB controllers')
        # A device asking for a model the server lacks adds a controller:
        # the same limit.
        self.assertStatus(409, self.attach(server, self.dongles[1],
                                           controller_model='qemu-xhci'),
                          'at most 4 USB controllers')
        ehci = [c['index'] for c in self.controllers(server).body[
            'usb_controllers'] if c['model'] == 'ehci']
        self.assertStatus(204, self.remove_controller(server, ehci[-1]))
        self.assertStatus(200, self.attach(server, self.dongles[1],
                                           controller_model='qemu-xhci'))
        added = self.controllers(server).body['usb_controllers']
        xhci = [c['index'] for c in added if c['model'] == 'qemu-xhci']
        self.assertStatus(409, self.remove_controller(server, xhci[0]),
                          'detach it first')
