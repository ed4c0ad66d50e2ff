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

"""Device ids in requests are taken only in the form nova-usb issues them:
a 400 in a body, a 404 in a path, before any compute host is asked.
"""

from urllib import parse

from oslo_utils import uuidutils

from nova_usb.api import hosts
from tests.functional.api import base


def malformed(device_id):
    """Spellings of a real ``device_id`` that nova-usb never issues, and
    other strings that are no device id.
    """
    return [
        device_id.upper(),
        device_id[:9] + device_id[9:].upper(),
        '{%s}' % device_id,
        'urn:uuid:' + device_id,
        device_id.replace('-', ''),
        device_id + '\n',
        ' ' + device_id,
        device_id[:-1],
        device_id + '0',
        # Another version (4, random) or variant of UUID.
        uuidutils.generate_uuid(),
        device_id[:14] + '4' + device_id[15:],
        device_id[:19] + 'c' + device_id[20:],
        'no-such-device',
        '00000000-0000-0000-0000-000000000000',
        '\x1b[2J' + device_id,
    ]


class DeviceIdsTestCase(base.UsbApiTestBase):

    def setUp(self):
        super().setUp()
        self.server = self._create_server(networks='none')
        self.lookups = self.spy(hosts.ComputeHosts, 'find_device')
        self.rpc_calls = self.spy_rpc()

    def test_body_ids(self):
        before = self.snapshot(self.server)
        actions = self.actions(self.server)
        bad = malformed(self.key2)
        for device_id in bad:
            for role in ('member', 'admin'):
                self.assertStatus(400, self.attach(self.server, device_id,
                                                   role),
                                  'Invalid input for field/attribute id')
        self.assertEqual([], self.rpc_calls())
        self.assertEqual([], self.lookups)
        self.assertEqual(actions, self.actions(self.server))
        self.assertUnchanged(self.server, before)
        # The id as issued is taken.
        self.assertStatus(200, self.attach(self.server, self.key2))
        self.assertEqual([('attach_device', 'compute1')], self.rpc_calls())

    def test_path_ids(self):
        self.assertStatus(200, self.attach(self.server, self.key1))
        before = self.snapshot(self.server)
        actions = self.actions(self.server)
        prefix = '/servers/%s/os-usb-devices/' % self.server['id']
        for device_id in malformed(self.key1):
            path = parse.quote(device_id, safe='')
            for role, method, url in (
                    ('reader', 'GET', prefix + path),
                    ('member', 'DELETE', prefix + path),
                    ('admin', 'DELETE', prefix + path),
                    ('admin', 'GET', '/os-usb-devices/' + path),
                    ('admin', 'GET',
                     '/os-usb-devices/%s?host=compute1' % path)):
                response = self.assertStatus(
                    404, self.request(role, method, url),
                    'No USB device has the id ')
                # Quoted escaped, never as the terminal control it holds.
                self.assertNotIn('\x1b', response.message)
        self.assertIn('No USB device has the id \\x1b[2J' + self.key1,
                      response.message)
        # Only the attach above reached a compute host.
        self.assertEqual([('attach_device', 'compute1')], self.rpc_calls())
        self.assertEqual([], self.lookups)
        self.assertEqual(actions, self.actions(self.server))
        self.assertUnchanged(self.server, before)

        # Policy still comes first.
        self.assertStatus(403, self.request('member', 'GET',
                                            '/os-usb-devices/no-such-device'))
        self.assertStatus(404, self.request(
            'stranger', 'DELETE', prefix + 'no-such-device'),
            'could not be found')

        # The ids as issued reach the compute hosts.
        self.assertStatus(200, self.request('reader', 'GET',
                                            prefix + self.key1))
        self.assertStatus(200, self.request('admin', 'GET',
                                            '/os-usb-devices/' + self.key1))
        self.assertStatus(202, self.detach(self.server, self.key1))
        self.assertEqual([('attach_device', 'compute1'),
                          ('list_host_devices', 'compute1'),
                          ('list_server_devices', 'compute1'),
                          ('start_detach', 'compute1')],
                         self.rpc_calls())
        self.assertEqual(1, len(self.lookups))
