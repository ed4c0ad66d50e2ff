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

"""The three use cases through the openstack CLI, on a host with real USB.

``nova-usb-sandbox --libvirt real`` runs on the nested test host: nova-api
(HTTP on 127.0.0.1), conductor, scheduler, placement and a real
nova-compute with the nova-usb driver, on this host's libvirtd, with this
host's kernel USB read through pyudev. The commands are python-
openstackclient's ``openstack`` with nova-usb's plugin, run in this
process through the shell's own ``main`` (what the ``openstack`` script
calls), because each new Python process costs tens of seconds under TCG;
they reach the sandbox over HTTP like any client. The guests are real
QEMU guests, whose monitor (``info usb``) shows what they hold. After the
use cases, a held stick is pulled out of the host and plugged back: the
real nova-compute gives it back to its server.

keystone is keystone itself, run by the sandbox; the stand-ins are the
sandbox's: glance (one in-memory image), neutron (servers have no
network). A server whose flavor asks placement for a stick gets one at
boot.
"""

import contextlib
import io
import json
import os
import shlex
import shutil
import tempfile
import time
import types
import unittest

from nova_usb.virt import guest as usb_guest
from tests.e2e.guest import host_control
from tests.e2e.guest import nested
from tests.fixtures import polling
from tests.sandbox import test_sandbox as sandbox_tests

READY_TIMEOUT = 15 * 60
STATUS_TIMEOUT = 10 * 60
STICKS = '{"vendor_id": "46f4"}'  # QEMU's usb-storage: the sticks only


class FullStackTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        out = os.environ.get('NOVA_USB_E2E_OUT', '/tmp')
        cls.transcript_path = os.path.join(out, 'full-stack-transcript.txt')
        began = time.monotonic()
        cls.out = out
        # On the guest's disk (SQLite on the 9p share would be slow); its
        # logs are copied into the share at the end.
        cls.state_dir = tempfile.mkdtemp(prefix='nova-usb-sandbox-')
        # QEMU runs as libvirt-qemu and opens the disks under it.
        os.chmod(cls.state_dir, 0o711)
        cls.sandbox = sandbox_tests.Sandbox(
            '--libvirt', 'real', '--host', nested.HOST,
            '--device-spec', STICKS, '--state-dir', cls.state_dir)
        if not cls.sandbox.wait_ready(READY_TIMEOUT):
            cls.stop_sandbox()
            raise AssertionError('nova-usb-sandbox was not ready within '
                                 '%d s (see sandbox.log)' % READY_TIMEOUT)
        cls.ready_seconds = time.monotonic() - began
        from openstackclient import shell as osc_shell
        cls.osc_shell = osc_shell

    @classmethod
    def tearDownClass(cls):
        cls.stop_sandbox()

    @classmethod
    def stop_sandbox(cls):
        """SIGINT, as Ctrl-C; its output and logs go into the share."""
        cls.sandbox.kill()
        with open(os.path.join(cls.out, 'sandbox.log'), 'w') as log:
            log.write(cls.sandbox.output + '\n')
        logs = os.path.join(cls.out, 'sandbox-logs')
        os.makedirs(logs, exist_ok=True)
        for name in os.listdir(cls.state_dir):
            if name.endswith('.log'):
                shutil.copy(os.path.join(cls.state_dir, name), logs)
        shutil.rmtree(cls.state_dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.conn = nested.connect()
        self.addCleanup(self.conn.close)
        self.transcript = open(self.transcript_path, 'a')
        self.addCleanup(self.transcript.close)
        self.note('# nova-usb-sandbox ready after %.0f s'
                  % self.ready_seconds)

    def note(self, text):
        self.transcript.write(text + '\n')
        self.transcript.flush()

    def openstack(self, *argv, table=False):
        """``openstack ARGV``; JSON parsed unless table=True."""
        argv = list(argv) + ([] if table else ['-f', 'json'])
        out, err = io.StringIO(), io.StringIO()
        env = self.sandbox.environment()
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        began = time.monotonic()
        try:
            with contextlib.redirect_stdout(out), \
                    contextlib.redirect_stderr(err):
                try:
                    code = self.osc_shell.main(argv) or 0
                except SystemExit as e:
                    code = e.code
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self.note('$ openstack %s    # %.1f s\n%s%s' % (
            shlex.join(argv), time.monotonic() - began, err.getvalue(),
            out.getvalue()))
        if code:
            self.fail('openstack %s failed (%s): %s%s' % (
                ' '.join(argv), code, out.getvalue(), err.getvalue()))
        text = out.getvalue()
        return text if table else (json.loads(text) if text.strip()
                                   else None)

    def wait_status(self, server, status):
        deadline = time.monotonic() + STATUS_TIMEOUT
        while True:
            shown = self.openstack('server', 'show', server)
            if shown['status'] == status:
                return shown
            if shown['status'] == 'ERROR' or time.monotonic() > deadline:
                self.fail('%s is %s, not %s: %s' % (
                    server, shown['status'], status, shown.get('fault')))
            time.sleep(2)

    def in_guest(self, server_id):
        """The nova-usb devices the server's QEMU holds (info usb)."""
        dom = self.conn.lookupByUUIDString(server_id)
        devices, text = nested.info_usb(dom)
        self.note('$ virsh qemu-monitor-command --hmp %s "info usb"\n%s'
                  % (dom.name(), text))
        return sorted(d['id'] for d in devices
                      if (d['id'] or '').startswith(usb_guest.ALIAS_PREFIX))

    def wait_server_device(self, server, device_id, status):
        """Until ``openstack server usb list`` shows the device so."""
        def listed_so():
            listed = self.openstack('server', 'usb', 'list', server)
            return any(d['ID'] == device_id and d['Status'] == status
                       for d in listed)
        polling.wait_for(listed_so, '%s %s' % (device_id, status),
                         timeout=120)

    def test_flavor_asking_for_a_stick(self):
        """Placement picks the device: a server whose flavor asks for a
        stick (resources:CUSTOM_USB_46F4_0001=1) has one of the free sticks
        in its QEMU from its first start; its delete frees it.
        """
        free = {d['ID'] for d in self.openstack(
            'usb', 'device', 'list', '--host', nested.HOST, '--long')
            if d['Vendor ID'] == '46f4' and d['Assignable'] and
            d.get('Server ID') is None}
        self.assertTrue(free)
        self.openstack('flavor', 'create', '--ram', '64', '--vcpus', '1',
                       '--disk', '1', '--property',
                       'resources:CUSTOM_USB_46F4_0001=1', 'stick')
        server = self.openstack(
            'server', 'create', '--flavor', 'stick', '--image', 'empty',
            '--nic', 'none', '--wait', 'with-stick')
        self.assertEqual('ACTIVE', server['status'])
        held = self.openstack('server', 'usb', 'list', 'with-stick')
        self.assertEqual(['attached'], [d['Status'] for d in held])
        self.assertIn(held[0]['ID'], free)
        self.assertEqual([usb_guest.device_alias(held[0]['ID'])],
                         self.in_guest(server['id']))
        self.openstack('server', 'delete', '--wait', 'with-stick',
                       table=True)
        holders = {d['ID']: d.get('Server ID') for d in self.openstack(
            'usb', 'device', 'list', '--host', nested.HOST, '--long')}
        self.assertIsNone(holders[held[0]['ID']])

    def test_three_use_cases(self):
        # 1. This host's USB devices.
        self.openstack('usb', 'device', 'list', '--host', nested.HOST,
                       table=True)
        devices = self.openstack('usb', 'device', 'list', '--host',
                                 nested.HOST)
        by_serial = {d['Serial']: d for d in devices}
        stick_a, stick_b = by_serial['NOVAUSB-A'], by_serial['NOVAUSB-B']
        self.assertTrue(stick_a['Assignable'])
        self.assertTrue(stick_b['Assignable'])
        keyboard = next(d for d in devices if d['Vendor ID'] == '0627')
        self.assertFalse(keyboard['Assignable'])

        # 2. Attach to a running server: in its QEMU at once.
        running = self.openstack(
            'server', 'create', '--flavor', 'tiny', '--image', 'empty',
            '--nic', 'none', '--wait', 'running')
        self.assertEqual('ACTIVE', running['status'])
        self.assertEqual([], self.in_guest(running['id']))
        attached = self.openstack('server', 'usb', 'add', 'running',
                                  stick_a['ID'])
        self.assertEqual('attached', attached['status'])
        alias_a = usb_guest.device_alias(stick_a['ID'])
        self.assertEqual([alias_a], self.in_guest(running['id']))

        # 3. Attach to a stopped server: effective when it starts.
        stopped = self.openstack(
            'server', 'create', '--flavor', 'tiny', '--image', 'empty',
            '--nic', 'none', 'stopped')
        self.wait_status('stopped', 'ACTIVE')
        self.openstack('server', 'stop', 'stopped', table=True)
        self.wait_status('stopped', 'SHUTOFF')
        self.openstack('server', 'usb', 'add', 'stopped', stick_b['ID'])
        self.openstack('server', 'usb', 'list', 'stopped', table=True)
        self.openstack('server', 'start', 'stopped', table=True)
        self.wait_status('stopped', 'ACTIVE')
        alias_b = usb_guest.device_alias(stick_b['ID'])
        self.assertEqual([alias_b], self.in_guest(stopped['id']))

        # Nova rewrites both domains at a hard reboot: nova-usb keeps them.
        for server in ('running', 'stopped'):
            self.openstack('server', 'reboot', '--hard', server, table=True)
            self.wait_status(server, 'ACTIVE')
        self.assertEqual([alias_a], self.in_guest(running['id']))
        self.assertEqual([alias_b], self.in_guest(stopped['id']))
        listed = self.openstack('usb', 'device', 'list', '--host',
                                nested.HOST, '--long')
        holders = {d['ID']: d.get('Server ID') for d in listed}
        self.assertEqual(running['id'], holders[stick_a['ID']])
        self.assertEqual(stopped['id'], holders[stick_b['ID']])

        # Pulled out of the host while attached, then plugged back: listed
        # missing meanwhile, and given back to the guest by nova-usb.
        self.note('# NOVAUSB-A pulled out of the host (QMP device_del)')
        host_control.unplug('stick-a')
        self.wait_server_device('running', stick_a['ID'], 'missing')
        self.note('# NOVAUSB-A plugged back (QMP device_add)')
        host_control.plug('stick-a')
        self.wait_server_device('running', stick_a['ID'], 'attached')
        back = self.openstack('usb', 'device', 'show', stick_a['ID'])
        dom = self.conn.lookupByUUIDString(running['id'])
        polling.wait_for(lambda: nested.hostdevs(dom.XMLDesc(0)) == [
            (alias_a, back['bus'], back['devnum'])],
            'NOVAUSB-A given back to the guest', timeout=120)
        sysfs = types.SimpleNamespace(sys_path=back['port_path'])
        polling.wait_for(
            lambda: nested.interface_drivers(sysfs) <= {'usbfs'},
            'the guest\'s QEMU holds NOVAUSB-A', timeout=60)
        self.assertEqual([alias_a], self.in_guest(running['id']))

        # Detach both.
        self.openstack('server', 'usb', 'remove', 'running', stick_a['ID'],
                       table=True)
        self.openstack('server', 'usb', 'remove', 'stopped', stick_b['ID'],
                       table=True)
        self.assertEqual([], self.in_guest(running['id']))
        self.assertEqual([], self.in_guest(stopped['id']))
        self.assertEqual([], self.openstack('server', 'usb', 'list',
                                            'running'))
        self.openstack('usb', 'device', 'list', '--host', nested.HOST,
                       table=True)
        for server in ('running', 'stopped'):
            self.openstack('server', 'delete', '--wait', server, table=True)
