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

"""Attaching a device the server's host does not have: only callers who
may see host details make nova-api ask the other compute hosts.
"""

from nova_usb.api import hosts
from tests.functional.api import base

NOT_HERE = "is not on the server's host"


class DeviceLookupTestCase(base.UsbApiTestBase):

    def setUp(self):
        super().setUp()
        self.start_compute('compute2')
        self.server = self._create_server(networks='none', host='compute1')
        # A device of the other host, and a well-formed id no host has.
        self.elsewhere = self.device_id('1-1.1', host='compute2')
        self.nowhere = self.device_id('1-1.1', host='compute9')
        self.lookups = self.spy(hosts.ComputeHosts, 'find_device')
        self.rpc_calls = self.spy_rpc()

    def test_member_is_answered_at_once_without_asking_other_hosts(self):
        before = self.snapshot(self.server)
        messages = []
        for device_id in (self.elsewhere, self.nowhere):
            response = self.assertStatus(
                404, self.attach(self.server, device_id), NOT_HERE)
            self.assertIn(device_id, response.message)
            self.assertNotIn('compute', response.message)
            messages.append(response.message.replace(device_id, 'D'))
        # Whether another host has the device is not told.
        self.assertEqual(messages[0], messages[1])
        self.assertEqual([], self.lookups)
        # Only the server's host was asked, once per request.
        self.assertEqual([('attach_device', 'compute1')] * 2,
                         self.rpc_calls())
        self.assertUnchanged(self.server, before)
        # Still a refusal of the compute host: recorded and announced.
        self.assertEqual([('usb_attach', [('compute_usb_attach', 'Error')])]
                         * 2, self.actions(self.server)[-2:])

    def test_admin_learns_the_device_is_on_another_host(self):
        self.assertStatus(409, self.attach(self.server, self.elsewhere,
                                           'admin'),
                          'is on another compute host than the server')
        self.assertEqual(1, len(self.lookups))
        self.assertEqual([('attach_device', 'compute1'),
                          ('list_host_devices', 'compute2')],
                         self.rpc_calls())
        self.assertStatus(404, self.attach(self.server, self.nowhere,
                                           'admin'),
                          'was not found on any compute host that answered')
        self.assertEqual(2, len(self.lookups))
        # The server's own host is never asked twice.
        self.assertEqual([('attach_device', 'compute1')] * 2 +
                         [('list_host_devices', 'compute2')] * 2,
                         self.rpc_calls())

    def test_a_device_of_the_servers_host_is_attached(self):
        self.assertStatus(200, self.attach(self.server, self.key1))
        self.assertEqual([], self.lookups)
        self.assertEqual([('attach_device', 'compute1')], self.rpc_calls())
