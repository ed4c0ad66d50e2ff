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

"""nova_usbclient.api on its own: the Python client that both CLIs use,
over a keystoneauth session that finds Nova in the service catalog.
"""

from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session

from nova_usbclient import api
from tests.functional.cli import base


class ClientTestCase(base.CliTestBase):

    def client(self, user='member'):
        project, _ = self.users[user]
        auth = v3.Password(auth_url=base.KEYSTONE + '/v3', username=user,
                           password=base.PASSWORD, project_id=project,
                           user_domain_id='default',
                           project_domain_id='default')
        return api.Client(ks_session.Session(auth=auth))

    def assertRefused(self, error_class, code, fragment, call, *args):
        error = self.assertRaises(error_class, call, *args)
        self.assertIsInstance(error, api.ApiError)
        self.assertEqual(code, error.code)
        self.assertIn(fragment, error.message)
        self.assertTrue(error.request_id.startswith('req-'), error.request_id)
        self.assertEqual('%s (HTTP %d) (Request-ID: %s)' % (
            error.message, code, error.request_id), str(error))
        return error

    def test_every_route(self):
        member, admin = self.client(), self.client('admin')
        server = self._create_server(networks='none')
        uuid = server['id']

        self.assertIn(self.key1, [d['id'] for d in
                                  member.list_available_devices(uuid)])
        attached = member.attach_device(uuid, self.key1)
        self.assertEqual((self.key1, 'attached'),
                         (attached['id'], attached['status']))
        self.assertEqual(attached, member.get_server_device(uuid, self.key1))
        self.assertEqual([attached], member.list_server_devices(uuid))
        held = {d['id']: d for d in admin.list_host_devices('compute1')}
        self.assertEqual(uuid, held[self.key1]['server_id'])
        self.assertEqual(held[self.key1],
                         admin.get_host_device(self.key1))
        self.assertEqual(held[self.key1],
                         admin.get_host_device(self.key1, 'compute1'))
        request_id = member.detach_device(uuid, self.key1)
        self.assertTrue(request_id.startswith('req-'), request_id)
        self.assertIsNone(member.wait_for_detach(uuid, self.key1,
                                                 request_id, interval=0.1))
        self.assertEqual([], member.list_server_devices(uuid))

        self._stop_server(server)
        before = member.list_controllers(uuid)
        added = member.add_controller(uuid, 'qemu-xhci', ports=6)
        self.assertEqual(('qemu-xhci', 6), (added['model'], added['ports']))
        self.assertEqual(len(before) + 1, len(member.list_controllers(uuid)))
        self.assertIsNone(member.remove_controller(uuid, added['index']))
        self.assertEqual(len(before), len(member.list_controllers(uuid)))
        ehci = member.add_controller(uuid, 'ehci')
        self.assertEqual(6, ehci['ports'])
        member.attach_device(uuid, self.key2, controller_model='ehci')
        self.assertEqual('ehci', member.get_server_device(
            uuid, self.key2)['controller_model'])

    def test_refusals_are_typed_and_carry_the_servers_message(self):
        member = self.client()
        first = self._create_server(networks='none')['id']
        second = self._create_server(networks='none')['id']
        member.attach_device(first, self.key1)

        self.assertRefused(api.Conflict, 409, 'is held by server %s' % first,
                           self.client('admin').attach_device, second,
                           self.key1)
        self.assertRefused(api.Conflict, 409, 'held by another server',
                           member.attach_device, second, self.key1)
        self.assertRefused(api.NotFound, 404, 'not attached to this server',
                           member.detach_device, second, self.key1)
        self.assertRefused(api.BadRequest, 400, 'known models',
                           member.add_controller, second, 'floppy')
        self.assertRefused(api.BadRequest, 400, 'ports',
                           member.add_controller, second, 'ehci', 4)
        self.assertRefused(api.Forbidden, 403, 'nova_usb:host-devices:list',
                           member.list_host_devices, 'compute1')
        self.assertRefused(api.NotFound, 404, first,
                           self.client('stranger').list_server_devices,
                           first)

    def test_ids_are_opaque_path_segments(self):
        member = self.client()
        server = self._create_server(networks='none')['id']
        # Quoted, a "?" stays in the id instead of starting a query.
        self.assertRefused(api.NotFound, 404,
                           'No USB device has the id x?available=true',
                           member.get_server_device, server,
                           'x?available=true')
        # Nova's router has no route for an id with a "/": its plain text
        # answer is the message.
        error = self.assertRaises(api.NotFound, member.get_server_device,
                                  server, 'a/b')
        self.assertIn('could not be found', error.message)

    def test_compute_host_does_not_answer(self):
        server = self._create_server(networks='none')['id']
        rpc_server = self.computes['compute1'].driver._usb_rpc_server
        rpc_server.stop()
        rpc_server.wait()
        self.flags(rpc_response_timeout=1)
        self.flags(host_lookup_timeout=1, group='usb')
        self.assertRefused(api.ServiceUnavailable, 503,
                           'did not complete the change in time',
                           self.client().attach_device, server, self.key1)
