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

"""The sandbox's demo flavor ``yubikey`` (resources:CUSTOM_USB_1050_0407=1)
with the real ``openstack`` command: its two recorded YubiKeys go to two
servers; a third server is over the project's quota of two keys (a
registered limit in keystone) and, with the project's limit raised, finds
no valid host; a delete frees a key for the next one.
"""

import os

import testtools

from tests.sandbox import test_sandbox as sandbox_test

KEY_SERIALS = {'17381956', '17381957'}


class FlavorWithADeviceTestCase(testtools.TestCase):

    start = sandbox_test.TestSandbox.start
    run_cli = sandbox_test.TestSandbox.run_cli
    openstack = sandbox_test.TestSandbox.openstack
    wait_status = sandbox_test.TestSandbox.wait_status

    def create(self, name):
        """openstack server create with the demo flavor, which may fail."""
        return self.run_cli(os.path.join(sandbox_test.BIN, 'openstack'),
                            'server', 'create', '--flavor', 'yubikey',
                            '--image', 'empty', '--nic', 'none', '--wait',
                            name, expect_ok=False)

    def boot(self, name):
        """Create a server with the demo flavor; its status when the build
        has ended (ACTIVE or ERROR).
        """
        self.create(name)
        return self.openstack('server', 'show', name, '-f', 'json')

    def key_of(self, name):
        """The serial of the one device the server holds, attached."""
        listed = self.openstack('server', 'usb', 'list', name, '-f', 'json')
        self.assertEqual(['attached'], [d['Status'] for d in listed])
        return listed[0]['Serial']

    def test_two_yubikeys_two_servers_then_no_valid_host(self):
        self.start('--demo-devices')
        flavor = self.openstack('flavor', 'show', 'yubikey', '-f', 'json')
        self.assertEqual({'resources:CUSTOM_USB_1050_0407': '1'},
                         flavor['properties'])
        first, second = self.boot('key1'), self.boot('key2')
        self.assertEqual(('ACTIVE', 'ACTIVE'),
                         (first['status'], second['status']))
        held = {self.key_of('key1'), self.key_of('key2')}
        self.assertEqual(KEY_SERIALS, held)
        # Nova's own quota check, on keystone's registered limit.
        refused = self.create('key3')
        self.assertNotEqual(0, refused.returncode)
        self.assertIn('403', refused.stderr)
        self.assertIn(sandbox_test.YUBIKEY_QUOTA, refused.stderr)
        self.openstack('limit', 'create', '--service', 'nova', '--region',
                       'RegionOne', '--project', 'admin', '--resource-limit',
                       '3', sandbox_test.YUBIKEY_QUOTA, '-f', 'json')
        third = self.boot('key3')
        self.assertEqual('ERROR', third['status'])
        self.assertIn('No valid host', third['fault']['message'])
        # The host's view agrees: each key held by its server.
        holders = {d['Serial']: d['Server ID'] for d in self.openstack(
            'usb', 'device', 'list', '--host', sandbox_test.HOST,
            '-f', 'json')}
        self.assertEqual({first['id'], second['id']},
                         {holders[s] for s in KEY_SERIALS})
        freed = self.key_of('key1')
        self.openstack('server', 'delete', '--wait', 'key1')
        fourth = self.boot('key4')
        self.assertEqual('ACTIVE', fourth['status'])
        self.assertEqual(freed, self.key_of('key4'))
