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

"""``openstack server usb ...``, ``openstack server usb controller ...`` and
``openstack usb device ...``: the real ``openstack`` shell with nova-usb's
plugin, against the real API.
"""

from unittest import mock

from nova_usb.virt import guest as usb_guest
from nova_usb_sandbox import fakelibvirt_usb
from tests.fixtures import usb_database
from tests.functional.cli import base
from tests.functional import test_attach_detach as helpers

DEVICE_FIELDS = {
    'id', 'host', 'vendor_id', 'product_id', 'vendor_name', 'product_name',
    'serial', 'bus', 'devnum', 'port_path', 'speed', 'device_class',
    'interface_classes', 'is_hub', 'assignable', 'reason', 'server_id',
    'use'}


class OpenStackCliTestCase(base.CliTestBase):

    def assertError(self, result, fragment, code=None):
        """``openstack`` printed the server's message and exited 1."""
        self.assertEqual(1, result.code, result)
        self.assertIn(fragment, result.err)
        if code is not None:
            self.assertIn('(HTTP %s)' % code, result.err)
        self.assertEqual('', result.out)

    def by_id(self, rows):
        return {row['ID']: row for row in rows}

    def live_aliases(self, server):
        return set(helpers.hostdevs(self.live_xml(server)))

    def test_list_attach_hot_and_cold_detach(self):
        web = self._create_server(name='web1', networks='none')
        db = self._create_server(name='db1', networks='none')

        # The operator lists the host's devices.
        self.openstack('usb', 'device', 'list', '--host', 'compute1',
                       user='admin')
        devices = self.by_id(self.openstack_json(
            'usb', 'device', 'list', '--host', 'compute1', user='admin'))
        self.assertEqual(
            {'ID': self.key1, 'Vendor ID': '1050', 'Product ID': '0407',
             'Vendor': 'Yubico', 'Product': 'YubiKey OTP+FIDO+CCID',
             'Serial': 'YK0001', 'Port Path': '1-1.1', 'Assignable': True,
             'Use': 'any', 'Reason': None, 'Server ID': None},
            devices[self.key1])
        self.assertEqual((False, 'hub: hubs are never assignable'), (
            devices[self.device_id('1-1')]['Assignable'],
            devices[self.device_id('1-1')]['Reason']))

        # The project's member sees what the server may get...
        available = self.openstack('server', 'usb', 'available', 'web1',
                                   '-f', 'value', '-c', 'ID').out.split()
        self.assertEqual({self.key1, self.key2} | set(self.dongles),
                         set(available))
        # ... and attaches a key to the running server: at once.
        self.openstack('server', 'usb', 'add', 'web1', self.key1)
        self.assertEqual({usb_guest.device_alias(self.key1)},
                         self.live_aliases(web))

        # A dongle for the stopped server: there when it starts.
        self.openstack('server', 'stop', 'db1')
        db = self._wait_for_state_change(db, 'SHUTOFF')
        attached = self.openstack_json('server', 'usb', 'add', 'db1',
                                       self.dongle)
        self.assertEqual((self.dongle, 'attached', None), (
            attached['id'], attached['status'],
            attached['controller_model']))
        self.assertEqual({}, helpers.hostdevs(self.config_xml(db)))
        self.openstack('server', 'start', 'db1')
        db = self._wait_for_state_change(db, 'ACTIVE')
        self.assertEqual({usb_guest.device_alias(self.dongle)},
                         self.live_aliases(db))
        self.openstack('server', 'usb', 'list', 'db1')
        self.assertEqual(
            [{'ID': self.dongle, 'Vendor ID': '0529', 'Product ID': '0001',
              'Vendor': 'SafeNet', 'Product': 'Sentinel HL', 'Serial': None,
              'Status': 'attached', 'Controller Model': None}],
            self.openstack_json('server', 'usb', 'list', 'db1'))
        holders = self.by_id(self.openstack_json(
            'usb', 'device', 'list', '--host', 'compute1', '-c', 'ID', '-c',
            'Server ID', user='admin'))
        self.assertEqual((web['id'], db['id']), (
            holders[self.key1]['Server ID'],
            holders[self.dongle]['Server ID']))

        # Detach both.
        self.assertEqual('', self.openstack(
            'server', 'usb', 'remove', '--wait', 'web1', self.key1).out)
        self.openstack('server', 'usb', 'remove', db['id'], self.dongle,
                       '--wait')
        self.assertEqual(set(), self.live_aliases(web) | self.live_aliases(db))
        self.assertEqual([], self.openstack_json('server', 'usb', 'list',
                                                 'web1'))

    def test_remove_wait_fails_with_the_compute_hosts_reason(self):
        server = self._create_server(name='web1', networks='none')
        self.openstack('server', 'usb', 'add', 'web1', self.key1)
        original = fakelibvirt_usb.UsbDomain.detachDeviceFlags

        def ignores_unplug(domain, xml, flags):
            # A guest that never lets the device go.
            if not flags & 1:  # VIR_DOMAIN_AFFECT_LIVE
                return original(domain, xml, flags)

        with mock.patch.object(fakelibvirt_usb.UsbDomain,
                               'detachDeviceFlags', ignores_unplug):
            # The member reads the outcome; the reason is in the event's
            # details, which Nova's policy shows to admins by default.
            self.assertError(
                self.openstack('server', 'usb', 'remove', '--wait', 'web1',
                               self.key1, expect=None),
                'USB device %s was not detached: the compute host could '
                'not detach it; "openstack server event show' % self.key1)
            self.assertError(
                self.openstack('server', 'usb', 'remove', '--wait',
                               server['id'], self.key1, user='admin',
                               expect=None),
                'USB device %s was not detached: The compute host could '
                'not detach the USB device' % self.key1)
        self.assertEqual(['attached'], [
            d['Status'] for d in self.openstack_json('server', 'usb', 'list',
                                                     'web1')])

    def test_output_formats_and_columns(self):
        server = self._create_server(name='web1', networks='none')
        self.openstack('server', 'usb', 'add', 'web1', self.key1)

        table = self.table(self.openstack('server', 'usb', 'list',
                                          'web1').out)
        self.assertEqual(['ID', 'Vendor ID', 'Product ID', 'Vendor',
                          'Product', 'Serial', 'Status', 'Controller Model'],
                         table[0])
        self.assertEqual(self.key1, table[1][0])
        self.assertEqual(
            '%s attached\n' % self.key1,
            self.openstack('server', 'usb', 'list', 'web1', '-f', 'value',
                           '-c', 'ID', '-c', 'Status').out)
        self.assertEqual(
            '"ID","Serial"\n"%s","YK0001"\n' % self.key1,
            self.openstack('server', 'usb', 'list', 'web1', '-f', 'csv',
                           '-c', 'ID', '-c', 'Serial').out)

        # --long adds where and how the device is plugged (host names
        # are for operators).
        long = self.openstack_json('server', 'usb', 'list', 'web1', '--long')
        self.assertEqual(
            {'Host': None, 'Bus': 1, 'Devnum': 3, 'Speed': 12,
             'Device Class': '00', 'Interface Classes': ['03', '0b'],
             'Hub': False, 'Controller Model': None},
            {k: long[0][k] for k in (
                'Host', 'Bus', 'Devnum', 'Speed', 'Device Class',
                'Interface Classes', 'Hub', 'Controller Model')})
        hosts = self.table(self.openstack(
            'usb', 'device', 'list', '--host', 'compute1', '--long', '-c',
            'ID', '-c', 'Host', '-c', 'Interface Classes', user='admin').out)
        self.assertEqual(['ID', 'Host', 'Interface Classes'], hosts[0])
        self.assertIn([self.key1, 'compute1', '03, 0b'], hosts)

        # show: every field under its API name (host and holder for
        # operators only).
        shown = self.openstack_json('server', 'usb', 'show', 'web1',
                                    self.key1)
        self.assertEqual(DEVICE_FIELDS - {'host', 'server_id', 'use'} |
                         {'status', 'controller_model'}, set(shown))
        self.assertEqual(('compute1', shown['id']), tuple(
            self.openstack_json('server', 'usb', 'show', server['id'],
                                self.key1, user='admin')[k]
            for k in ('host', 'id')))
        self.assertEqual(('YK0001', True, None, ['03', '0b']), (
            shown['serial'], shown['assignable'], shown['reason'],
            shown['interface_classes']))
        self.assertEqual('attached\n', self.openstack(
            'server', 'usb', 'show', 'web1', self.key1, '-f', 'value', '-c',
            'status').out)
        shell = self.openstack('server', 'usb', 'show', 'web1', self.key1,
                               '-f', 'shell', '-c', 'serial', '-c',
                               'port_path', '--prefix', 'usb_').out
        self.assertEqual('usb_port_path="1-1.1"\nusb_serial="YK0001"\n',
                         shell)
        rows = dict(self.table(self.openstack(
            'server', 'usb', 'show', 'web1', self.key1).out)[1:])
        self.assertEqual(('03, 0b', 'attached'), (
            rows['interface_classes'], rows['status']))

        # An empty list is no rows, in every format.
        self.openstack('server', 'usb', 'remove', '--wait', 'web1',
                       self.key1)
        self.assertEqual([], self.table(self.openstack(
            'server', 'usb', 'list', 'web1').out))
        self.assertEqual(['ID', 'Status'], self.table(self.openstack(
            'server', 'usb', 'list', 'web1', '-c', 'ID', '-c', 'Status',
            '--print-empty').out)[0])
        self.assertEqual([], self.openstack_json('server', 'usb', 'list',
                                                 'web1'))

    def test_usb_device_show(self):
        server = self._create_server(name='web1', networks='none')
        self.openstack('server', 'usb', 'add', 'web1', self.key2)
        for extra in ((), ('--host', 'compute1')):
            shown = self.openstack_json('usb', 'device', 'show', self.key2,
                                        *extra, user='admin')
            self.assertEqual(DEVICE_FIELDS, set(shown))
            self.assertEqual((self.key2, 'compute1', 'YK0002', server['id']),
                             (shown['id'], shown['host'], shown['serial'],
                              shown['server_id']))
        self.assertError(self.openstack(
            'usb', 'device', 'show', 'no-such-device', user='admin',
            expect=None), 'no-such-device', 404)
        self.assertError(self.openstack(
            'usb', 'device', 'show', self.key2, expect=None),
            "Policy doesn't allow nova_usb:host-devices:show", 403)

    def test_usb_device_grants(self):
        self.useFixture(usb_database.SQLiteUsbDatabase())
        project = self.api.project_id
        self.assertEqual([{'Project ID': '*', 'Source': 'device_spec'}],
                         self.openstack_json('usb', 'device', 'grant',
                                             'list', self.key1,
                                             user='admin'))
        added = self.openstack_json('usb', 'device', 'grant', 'add',
                                    self.key1, project, user='admin')
        self.assertEqual({'project_id': project, 'source': 'grant'}, added)
        self.assertEqual(
            [{'Project ID': '*', 'Source': 'device_spec'},
             {'Project ID': project, 'Source': 'grant'}],
            self.openstack_json('usb', 'device', 'grant', 'list', self.key1,
                                user='admin'))
        self.assertEqual('', self.openstack(
            'usb', 'device', 'grant', 'remove', self.key1, project,
            user='admin').out)
        self.assertError(self.openstack(
            'usb', 'device', 'grant', 'remove', self.key1, project,
            user='admin', expect=None), 'has no grant', 404)
        self.assertError(self.openstack(
            'usb', 'device', 'grant', 'add', self.device_id('1-1'), project,
            user='admin', expect=None), 'is a hub', 409)
        self.assertError(self.openstack(
            'usb', 'device', 'grant', 'list', self.key1, expect=None),
            "Policy doesn't allow nova_usb:device-grants:list", 403)

    def test_controllers(self):
        server = self._create_server(name='vm', networks='none')
        self.assertError(self.openstack(
            'server', 'usb', 'controller', 'add', 'vm', 'qemu-xhci',
            expect=None), 'stopped', 409)
        server = self._stop_server(server)
        before = self.openstack_json('server', 'usb', 'controller', 'list',
                                     'vm')
        added = self.openstack_json('server', 'usb', 'controller', 'add',
                                    'vm', 'qemu-xhci', '--ports', '8')
        self.assertEqual({'model': 'qemu-xhci', 'ports': 8, 'used_ports': 0,
                          'removable': True},
                         {k: added[k] for k in ('model', 'ports',
                                                'used_ports', 'removable')})
        index = str(added['index'])
        self.openstack('server', 'usb', 'add', 'vm', self.key1,
                       '--controller-model', 'qemu-xhci')
        self.openstack('server', 'usb', 'controller', 'list', 'vm')
        server = self._start_server(server)
        controllers = {c['Index']: c for c in self.openstack_json(
            'server', 'usb', 'controller', 'list', 'vm')}
        self.assertEqual(len(before) + 1, len(controllers))
        self.assertEqual({'Index': added['index'], 'Model': 'qemu-xhci',
                          'Ports': 8, 'Used Ports': 1, 'Removable': True},
                         controllers[added['index']])
        server = self._stop_server(server)

        self.assertError(self.openstack(
            'server', 'usb', 'controller', 'remove', 'vm', index,
            expect=None), 'USB', 409)
        self.openstack('server', 'usb', 'remove', 'vm', self.key1)
        self.assertEqual('', self.openstack(
            'server', 'usb', 'controller', 'remove', 'vm', index).out)
        self.assertEqual(
            [(c['Index'], c['Model']) for c in before],
            [(c['Index'], c['Model']) for c in self.openstack_json(
                'server', 'usb', 'controller', 'list', 'vm')])
        self.assertError(self.openstack(
            'server', 'usb', 'controller', 'remove', 'vm', index,
            expect=None), index, 404)
        self.assertError(self.openstack(
            'server', 'usb', 'controller', 'add', 'vm', 'floppy',
            expect=None), 'qemu-xhci', 400)

    def test_refusals_exit_1_with_the_servers_message(self):
        self._create_server(name='web1', networks='none')
        db = self._create_server(name='db1', networks='none')
        self.openstack('server', 'usb', 'add', 'web1', self.key1)

        self.assertError(self.openstack(
            'server', 'usb', 'add', 'db1', self.key1, expect=None),
            'held by', 409)
        unknown = self.device_id('1-1.1', host='nohost')
        self.assertError(self.openstack(
            'server', 'usb', 'add', 'db1', unknown, expect=None),
            unknown, 404)
        self.assertError(self.openstack(
            'server', 'usb', 'add', 'db1', 'no-such-device', expect=None),
            'no-such-device', 400)
        self.assertError(self.openstack(
            'server', 'usb', 'remove', 'db1', self.key2, expect=None),
            self.key2, 404)
        self.assertError(self.openstack(
            'server', 'usb', 'show', 'db1', self.key1, expect=None),
            self.key1, 404)
        self.assertError(self.openstack(
            'usb', 'device', 'list', '--host', 'compute1', expect=None),
            "Policy doesn't allow nova_usb:host-devices:list", 403)
        self.assertError(self.openstack(
            'server', 'usb', 'add', 'db1', self.key2, user='reader',
            expect=None),
            "Policy doesn't allow nova_usb:server-devices:attach", 403)
        # Servers by name or id, as for every openstack server command.
        self.assertError(self.openstack(
            'server', 'usb', 'list', 'nosuch', expect=None),
            'No Server found for nosuch')
        self.assertError(self.openstack(
            'server', 'usb', 'list', db['id'], user='stranger', expect=None),
            'No Server found for %s' % db['id'])
        self._create_server(name='db1', networks='none')
        self.assertError(self.openstack(
            'server', 'usb', 'available', 'db1', expect=None),
            'More than one Server exists with the name')
        self.assertEqual([], self.openstack_json('server', 'usb', 'list',
                                                 db['id']))

        usage = self.openstack('usb', 'device', 'list', expect=2)
        self.assertIn('the following arguments are required: --host',
                      usage.err)

    def test_help(self):
        commands = self.openstack('command', 'list', '--group', 'usb',
                                  '-f', 'json').out
        for command in ('server usb list', 'server usb available',
                        'server usb add', 'server usb remove',
                        'server usb show', 'server usb controller list',
                        'server usb controller add',
                        'server usb controller remove', 'usb device list',
                        'usb device show', 'usb device grant list',
                        'usb device grant add', 'usb device grant remove'):
            self.assertIn('"%s"' % command, commands)
        add = self.openstack('help', 'server', 'usb', 'add').out
        self.assertIn('usage: openstack server usb add', add)
        self.assertIn('at its next start to a stopped one', add)
        self.assertIn('--controller-model <model>', add)
        self.assertIn('Server to attach the USB device to (name or ID)', add)
        listing = self.openstack('usb', 'device', 'list', '--help').out
        self.assertIn('--host <host>', listing)
        self.assertIn('--long', listing)
        self.assertIn('-f {csv,json,table,value,yaml}', listing)
