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

"""A compute host that is down or does not answer: a clear error, never a
500, and nothing half done.
"""

from tests.functional.api import base


class ComputeHostTestCase(base.UsbApiTestBase):

    def test_compute_service_down(self):
        server = self._create_server(networks='none')
        self.assertStatus(200, self.attach(server, self.key1))
        before = self.snapshot(server)
        actions = self.actions(server)
        service = self.request(
            'admin', 'GET', '/os-services?binary=nova-compute&host=compute1'
        ).body['services'][0]
        self.assertStatus(200, self.request(
            'admin', 'PUT', '/os-services/%s' % service['id'],
            {'forced_down': True}))

        down = "The compute service of the server's host is down"
        self.assertStatus(409, self.attach(server, self.key2), down)
        self.assertStatus(409, self.detach(server, self.key1), down)
        self.assertStatus(409, self.server_devices(server), down)
        self.assertStatus(409, self.server_devices(
            server, query='?available=true'), down)
        self.assertStatus(409, self.controllers(server), down)
        self.assertStatus(409, self.attach(server, self.key2, 'admin'),
                          'The compute service of host compute1 is down')
        self.assertStatus(409, self.host_devices(),
                          'The compute service of host compute1 is down')
        self.assertStatus(404, self.request(
            'admin', 'GET', '/os-usb-devices/%s' % self.key1),
            'not found on any compute host that answered')
        self.assertUnchanged(server, before)
        self.assertEqual(actions, self.actions(server))

    def test_compute_host_does_not_answer(self):
        server = self._create_server(networks='none')
        before = self.snapshot(server)
        # nova-compute's service is up, but nova-usb's RPC server is gone.
        driver = self.computes['compute1'].driver
        driver._usb_rpc_server.stop()
        driver._usb_rpc_server.wait()
        driver._usb_rpc_server = None
        self.flags(rpc_response_timeout=1)
        self.flags(host_lookup_timeout=1, group='usb')
        self.notifier.reset()

        no_answer = "The compute service of the server's host did not answer"
        self.assertStatus(503, self.attach(server, self.key1),
                          "The compute service of the server's host did not "
                          "complete the change in time (no reply in time). "
                          "It was not made")
        self.assertStatus(503, self.server_devices(server), no_answer)
        self.assertStatus(503, self.host_devices(),
                          'The compute service of host compute1 did not '
                          'answer (no reply in time). Try again later.')
        self.assertStatus(404, self.request(
            'admin', 'GET', '/os-usb-devices/%s' % self.key1))
        self.assertUnchanged(server, before)
        self.assertEqual(('usb_attach', [('compute_usb_attach', 'Error')]),
                         self.actions(server)[-1])
        self.assertEqual(
            [('instance.usb_attach.start', 'INFO'),
             ('instance.usb_attach.error', 'ERROR')],
            [n[:2] for n in self.usb_notifications()])
        self.assertEqual('UsbChangeNotMade', self.usb_notifications()[1][2][
            'nova_object.data']['exception'])
