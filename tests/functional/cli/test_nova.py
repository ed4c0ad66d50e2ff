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

"""``nova usb-*``, ``nova usb-controller-*`` and ``nova host-usb-list``: the
real ``nova`` shell with nova-usb's extension, against the real API.
"""

from nova_usb.virt import guest as usb_guest
from tests.functional.cli import base
from tests.functional import test_attach_detach as helpers


class NovaCliTestCase(base.CliTestBase):

    def rows(self, result):
        """{ID: {heading: cell}} of a ``nova`` list."""
        table = self.table(result.out)
        return {row[0]: dict(zip(table[0], row)) for row in table[1:]}

    def properties(self, result):
        return dict(self.table(result.out)[1:])

    def assertError(self, result, kind, fragment, code=None):
        """``nova`` printed the server's message and exited 1."""
        self.assertEqual(1, result.code, result)
        self.assertIn('ERROR (%s): ' % kind, result.err)
        self.assertIn(fragment, result.err)
        if code is not None:
            self.assertIn('(HTTP %s)' % code, result.err)
        self.assertEqual('', result.out)

    def live_aliases(self, server):
        return set(helpers.hostdevs(self.live_xml(server)))

    def test_list_attach_hot_and_cold_detach(self):
        web = self._create_server(name='web1', networks='none')
        db = self._create_server(name='db1', networks='none')

        # The operator lists the host's devices.
        devices = self.rows(self.nova('host-usb-list', 'compute1',
                                      user='admin'))
        self.assertEqual(
            ('1050', '0407', 'Yubico', 'YubiKey OTP+FIDO+CCID', 'YK0001',
             '1-1.1', 'True', 'any', '-', '-'),
            tuple(devices[self.key1][h] for h in (
                'Vendor ID', 'Product ID', 'Vendor', 'Product', 'Serial',
                'Port Path', 'Assignable', 'Use', 'Reason', 'Server ID')))
        self.assertEqual(('False', 'hub: hubs are never assignable'), (
            devices[self.device_id('1-1')]['Assignable'],
            devices[self.device_id('1-1')]['Reason']))
        self.assertEqual('not matched by [usb] device_spec',
                         devices[self.device_id('1-3')]['Reason'])

        # The project's member sees what the server may get...
        available = self.rows(self.nova('usb-available', 'web1'))
        self.assertEqual({self.key1, self.key2} | set(self.dongles),
                         set(available))
        # ... and attaches a key to the running server: at once.
        attached = self.properties(self.nova('usb-attach', 'web1',
                                             self.key1))
        self.assertEqual((self.key1, 'attached'),
                         (attached['id'], attached['status']))
        self.assertEqual({usb_guest.device_alias(self.key1)},
                         self.live_aliases(web))

        # A dongle for the stopped server: there when it starts.
        self.nova('stop', 'db1')
        db = self._wait_for_state_change(db, 'SHUTOFF')
        self.nova('usb-attach', 'db1', self.dongle)
        self.assertEqual({}, helpers.hostdevs(self.config_xml(db)))
        self.nova('start', 'db1')
        db = self._wait_for_state_change(db, 'ACTIVE')
        self.assertEqual({usb_guest.device_alias(self.dongle)},
                         self.live_aliases(db))
        listed = self.rows(self.nova('usb-list', 'db1'))
        self.assertEqual({self.dongle: 'attached'},
                         {i: r['Status'] for i, r in listed.items()})
        holders = self.rows(self.nova('host-usb-list', 'compute1',
                                      user='admin'))
        self.assertEqual((web['id'], db['id']), (
            holders[self.key1]['Server ID'],
            holders[self.dongle]['Server ID']))

        # Detach both.
        self.assertEqual('', self.nova('usb-detach', '--wait', 'web1',
                                       self.key1).out)
        self.nova('usb-detach', '--wait', db['id'], self.dongle)
        self.assertEqual(set(), self.live_aliases(web) | self.live_aliases(db))
        self.assertEqual({}, self.rows(self.nova('usb-list', 'web1')))

    def test_controllers(self):
        server = self._create_server(name='vm', networks='none')
        server = self._stop_server(server)
        before = self.rows(self.nova('usb-controller-list', 'vm'))
        added = self.properties(self.nova('usb-controller-add', 'vm',
                                          'qemu-xhci', '--ports', '8'))
        self.assertEqual(('qemu-xhci', '8', '0', 'True'), (
            added['model'], added['ports'], added['used_ports'],
            added['removable']))
        index = added['index']
        self.nova('usb-attach', 'vm', self.key1, '--controller-model',
                  'qemu-xhci')
        self.assertEqual('qemu-xhci', self.rows(self.nova(
            'usb-list', 'vm'))[self.key1]['Controller Model'])

        controllers = self.rows(self.nova('usb-controller-list', 'vm'))
        self.assertEqual(set(before) | {index}, set(controllers))
        self.assertEqual(['Index', 'Model', 'Ports', 'Used Ports',
                          'Removable'], list(controllers[index]))

        self.assertError(self.nova('usb-controller-remove', 'vm', index,
                                   expect=None), 'Conflict', 'USB', 409)
        self.nova('usb-detach', '--wait', 'vm', self.key1)
        self.assertEqual('', self.nova('usb-controller-remove', 'vm',
                                       index).out)
        self.assertEqual(set(before), set(self.rows(self.nova(
            'usb-controller-list', 'vm'))))

    def test_refusals_exit_1_with_the_servers_message(self):
        self._create_server(name='web1', networks='none')
        db = self._create_server(name='db1', networks='none')
        self.nova('usb-attach', 'web1', self.key1)

        self.assertError(
            self.nova('usb-attach', 'db1', self.key1, expect=None),
            'Conflict', 'held by', 409)
        unknown = self.device_id('1-1.1', host='nohost')
        self.assertError(
            self.nova('usb-attach', 'db1', unknown, expect=None),
            'NotFound', unknown, 404)
        self.assertError(
            self.nova('usb-attach', 'db1', 'no-such-device', expect=None),
            'BadRequest', 'no-such-device', 400)
        self.assertError(
            self.nova('usb-detach', 'db1', self.key2, expect=None),
            'NotFound', self.key2, 404)
        self.assertError(
            self.nova('usb-controller-add', 'db1', 'qemu-xhci', expect=None),
            'Conflict', 'stopped', 409)
        self.assertError(
            self.nova('usb-controller-add', 'db1', 'floppy', expect=None),
            'BadRequest', 'qemu-xhci', 400)
        self.assertError(
            self.nova('host-usb-list', 'compute1', expect=None),
            'Forbidden', 'nova_usb:host-devices:list', 403)
        self.assertError(
            self.nova('host-usb-list', 'compute9', user='admin',
                      expect=None), 'NotFound', 'compute9', 404)
        # Servers by name or id, as for every nova command.
        self.assertError(
            self.nova('usb-list', 'nosuch', expect=None), 'CommandError',
            "No server with a name or ID of 'nosuch' exists.")
        self.assertError(
            self.nova('usb-list', db['id'], user='stranger', expect=None),
            'CommandError', 'No server with a name or ID')
        self._create_server(name='db1', networks='none')
        self.assertError(
            self.nova('usb-list', 'db1', expect=None), 'CommandError',
            'Multiple server matches found')
        self.assertEqual({}, self.rows(self.nova('usb-list', db['id'])))

        usage = self.nova('usb-attach', 'web1', expect=2)
        self.assertIn('error: the following arguments are required: '
                      '<device>', usage.err)

    def test_help(self):
        overview = self.nova('help').out
        for command in ('usb-list', 'usb-available', 'usb-attach',
                        'usb-detach', 'usb-controller-list',
                        'usb-controller-add', 'usb-controller-remove',
                        'host-usb-list'):
            self.assertIn('    %s ' % command, overview)
        attach = self.nova('help', 'usb-attach').out
        self.assertIn('usage: nova usb-attach [--controller-model <model>] '
                      '<server> <device>', attach)
        self.assertIn('at its next start to a stopped one', attach)
        self.assertIn('Name or ID of the server.', attach)
        add = self.nova('help', 'usb-controller-add').out
        self.assertIn('--ports <ports>', add)
