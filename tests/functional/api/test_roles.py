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

"""Every route as every role: admin (of another project), member and
reader of the owning project, member of another project.
"""

from tests.functional.api import base

ROLES = ('admin', 'member', 'reader', 'stranger')


class RolesTestCase(base.UsbApiTestBase):

    def assertStatuses(self, expected, call):
        """``call(role)`` answers ``expected[role]`` for each role."""
        got = {role: call(role).status for role in ROLES}
        self.assertEqual(dict(zip(ROLES, expected)), got)

    def test_device_routes(self):
        server = self._create_server(networks='none')
        key = self.key1
        self.assertStatuses((200, 403, 403, 403), self.host_devices)
        for query in ('', '?host=compute1'):
            self.assertStatuses((200, 403, 403, 403), lambda role: (
                self.request(role, 'GET', '/os-usb-devices/%s%s' % (
                    key, query))))
        self.assertStatuses((200, 200, 200, 404),
                            lambda role: self.server_devices(server, role))
        self.assertStatuses((200, 200, 200, 404), lambda role: (
            self.server_devices(server, role, '?available=true')))

        # Attach and detach: refused for the reader and the stranger, done
        # by the member and by the admin in turn.
        for role in ('reader', 'stranger'):
            self.assertStatus({'reader': 403, 'stranger': 404}[role],
                              self.attach(server, key, role))
        self.assertEqual({}, self.server_devices_by_id(server))
        for changer in ('member', 'admin'):
            self.assertStatus(200, self.attach(server, key, changer))
            self.assertStatuses((200, 200, 200, 404), lambda role: (
                self.request(role, 'GET', '/servers/%s/os-usb-devices/%s' % (
                    server['id'], key))))
            for role in ('reader', 'stranger'):
                self.assertStatus({'reader': 403, 'stranger': 404}[role],
                                  self.detach(server, key, role))
            self.assertEqual({key: 'attached'},
                             self.server_devices_by_id(server))
            self.assertStatus(202, self.detach(server, key, changer))
            self.assertEqual({}, self.server_devices_by_id(server))

    def test_host_names_and_holders_only_for_admins(self):
        server = self._create_server(networks='none')
        attached = self.attach(server, self.key1).body['usb_device']
        self.assertNotIn('host', attached)
        self.assertNotIn('server_id', attached)
        self.assertEqual(('attached', '1050', 'YK0001'), (
            attached['status'], attached['vendor_id'], attached['serial']))
        for query in ('', '?available=true'):
            for role in ('member', 'reader'):
                for device in self.server_devices(
                        server, role, query).body['usb_devices']:
                    self.assertNotIn('host', device)
                    self.assertNotIn('server_id', device)
            for device in self.server_devices(
                    server, 'admin', query).body['usb_devices']:
                self.assertEqual('compute1', device['host'])
        admin_view = self.server_devices(server, 'admin').body['usb_devices']
        self.assertEqual([server['id']], [d['server_id'] for d in admin_view])

        # Available: assignable, free, on the server's host.
        available = {d['id'] for d in self.server_devices(
            server, 'reader', '?available=true').body['usb_devices']}
        self.assertEqual({self.key2} | set(self.dongles), available)
        for falsy in ('false', '0', 'no'):
            self.assertEqual([self.key1], [d['id'] for d in (
                self.server_devices(server, 'reader', '?available=' + falsy)
                .body['usb_devices'])])

    def test_controller_routes(self):
        server = self._stop_server(self._create_server(networks='none'))
        self.assertStatuses((200, 200, 200, 404),
                            lambda role: self.controllers(server, role))
        for role in ('reader', 'stranger'):
            self.assertStatus({'reader': 403, 'stranger': 404}[role],
                              self.add_controller(server, 'ehci', role=role))
        for changer in ('member', 'admin'):
            added = self.assertStatus(200, self.add_controller(
                server, 'qemu-xhci', 8, role=changer)).body['usb_controller']
            self.assertEqual(('qemu-xhci', 8, 0, True), (
                added['model'], added['ports'], added['used_ports'],
                added['removable']))
            for role in ('reader', 'stranger'):
                self.assertStatus(
                    {'reader': 403, 'stranger': 404}[role],
                    self.remove_controller(server, added['index'], role))
            self.assertStatus(204, self.remove_controller(
                server, added['index'], changer))
        self.assertEqual((), self.requests(server).controllers)

    def server_devices_by_id(self, server):
        return {d['id']: d['status'] for d in self.server_devices(
            server, 'admin').body['usb_devices']}
