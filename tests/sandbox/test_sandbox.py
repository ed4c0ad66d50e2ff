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


"""nova-usb-sandbox as a user runs it: a process, HTTP, the real CLIs.

The test starts ``nova-usb-sandbox --demo-devices`` as a subprocess, takes
the environment block it prints, and drives the three use cases with the
real ``openstack`` command (python-openstackclient with nova-usb's plugin)
over HTTP: list the host's USB devices, attach one to a running server,
attach one to a stopped server (effective when it starts), detach. Then
the devices' projects: the demo project's member has the devices the
sandbox granted it at start, an admin's grants and their removal (which
takes a device back), and keystone's unified limits on the member's
YubiKeys. Then it sends SIGINT, as Ctrl-C would, and checks that the
sandbox and every process it started are gone and its temporary state
removed. A second test does the same with real guests on a real libvirtd
(which the sandbox starts itself when it does not run).

Every wait is bounded, so a sandbox that hangs fails the test instead of
hanging the suite.
"""

import json
import os
import signal
import subprocess
import sys
import time

import testtools

from tests.fixtures import sandbox_process

BIN = os.path.dirname(sys.executable)
READY_TIMEOUT = 120
COMMAND_TIMEOUT = 60
STOP_TIMEOUT = 60
HOST = 'sandbox'
YUBICO, DONGLE_VENDOR, KEYBOARD_VENDOR = '1050', '0529', '046d'
YUBIKEY_QUOTA = 'class:CUSTOM_USB_1050_0407'


def descendants(pid):
    """The pids of every process below pid, from /proc."""
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as stat:
                fields = stat.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as stat:
            # A zombie has exited; only its parent's wait() is missing.
            return stat.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def qemu_of(server_id):
    """The pid of the QEMU process running a server, or None."""
    wanted = ('-uuid\0%s\0' % server_id).encode()
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as cmdline:
                if wanted in cmdline.read() and alive(int(entry)):
                    return int(entry)
        except OSError:
            continue
    return None


class TestSandbox(testtools.TestCase):

    def start(self, *args):
        self.sandbox = sandbox_process.SandboxProcess(
            [os.path.join(BIN, 'nova-usb-sandbox')] + list(args))
        self.addCleanup(self.sandbox.stop, STOP_TIMEOUT)
        self.addDetail('sandbox output', testtools.content.Content(
            testtools.content_type.UTF8_TEXT,
            lambda: [self.sandbox.output.encode()]))
        began = time.monotonic()
        if not self.sandbox.wait_ready(READY_TIMEOUT):
            self.fail('nova-usb-sandbox was not ready within %d s'
                      % READY_TIMEOUT)
        self.start_seconds = time.monotonic() - began
        # Only what the sandbox printed reaches the clients.
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith('OS_')}
        self.env.update(self.sandbox.environment())

    def as_user(self, user):
        """The printed environment, logged in as a printed account."""
        project, password = self.sandbox.accounts()[user]
        return dict(self.env, OS_USERNAME=user, OS_PROJECT_NAME=project,
                    OS_PASSWORD=password)

    def run_cli(self, *args, expect_ok=True, env=None):
        result = subprocess.run(
            list(args), env=env or self.env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        if expect_ok and result.returncode != 0:
            self.fail('%s failed (%d):\n%s%s' % (
                ' '.join(args), result.returncode, result.stdout,
                result.stderr))
        return result

    def openstack(self, *args, env=None):
        """The real openstack command; JSON output parsed."""
        result = self.run_cli(os.path.join(BIN, 'openstack'), *args,
                              env=env)
        return json.loads(result.stdout) if '-f' in args else result.stdout

    def refused(self, *args, env=None):
        """The openstack command, which must fail; its stderr."""
        result = self.run_cli(os.path.join(BIN, 'openstack'), *args,
                              env=env, expect_ok=False)
        self.assertNotEqual(0, result.returncode, result.stdout)
        return result.stderr

    def wait_status(self, server, status, timeout=COMMAND_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            shown = self.openstack('server', 'show', server, '-f', 'json')
            if shown['status'] == status:
                return shown
            if time.monotonic() > deadline:
                self.fail('%s is %s, not %s, after %d s' % (
                    server, shown['status'], status, timeout))
            time.sleep(0.5)

    def ctrl_c(self, others=()):
        """SIGINT; the sandbox, its children and others must be gone."""
        state_dir = self.sandbox.state_dir()
        self.assertTrue(state_dir and os.path.isdir(state_dir))
        pid = self.sandbox.process.pid
        tree = [pid] + descendants(pid) + list(others)
        began = time.monotonic()
        os.kill(pid, signal.SIGINT)
        try:
            status = self.sandbox.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail('nova-usb-sandbox still runs %d s after SIGINT'
                      % STOP_TIMEOUT)
        self.assertEqual(0, status)
        self.assertLess(time.monotonic() - began, 30)
        self.assertEqual([], [p for p in tree if alive(p)])
        self.sandbox.reader.join(10)
        self.assertIn('nova-usb-sandbox stopped', self.sandbox.output)
        self.assertFalse(os.path.exists(state_dir))

    def test_use_cases_with_the_openstack_cli_then_ctrl_c(self):
        self.start('--demo-devices')
        output = self.sandbox.output
        self.assertIn('RECORDED', output)
        self.assertIn('SIMULATED', output)
        self.assertIn('clouds:', output)
        self.assertLess(self.start_seconds, 60)

        # 1. The host's USB devices (admin), each with why it is or is not
        # assignable.
        devices = self.openstack('usb', 'device', 'list', '--host', HOST,
                                 '-f', 'json')
        by_serial = {d['Serial']: d for d in devices}
        self.assertEqual(6, len(devices))
        key1, key2 = by_serial['17381956'], by_serial['17381957']
        self.assertEqual((YUBICO, YUBICO),
                         (key1['Vendor ID'], key2['Vendor ID']))
        self.assertNotEqual(key1['ID'], key2['ID'])
        self.assertTrue(key1['Assignable'])
        dongle = next(d for d in devices
                      if d['Vendor ID'] == DONGLE_VENDOR)
        self.assertIsNone(dongle['Serial'])
        self.assertTrue(dongle['Assignable'])
        keyboard = next(d for d in devices
                        if d['Vendor ID'] == KEYBOARD_VENDOR)
        self.assertFalse(keyboard['Assignable'])
        self.assertIn('device_spec', keyboard['Reason'])
        hubs = [d for d in devices if 'hub' in (d['Reason'] or '')]
        self.assertEqual(2, len(hubs))

        # 2. Attach to a running server: at once.
        running = self.openstack(
            'server', 'create', '--flavor', 'tiny', '--image', 'empty',
            '--nic', 'none', '--wait', 'running', '-f', 'json')
        self.assertEqual('ACTIVE', running['status'])
        attached = self.openstack('server', 'usb', 'add', 'running',
                                  key1['ID'], '-f', 'json')
        self.assertEqual('attached', attached['status'])
        self.assertEqual(running['id'], attached['server_id'])

        # 3. Attach to a stopped server: recorded, effective at start.
        stopped = self.openstack(
            'server', 'create', '--flavor', 'tiny', '--image', 'empty',
            '--nic', 'none', '--wait', 'stopped', '-f', 'json')
        self.openstack('server', 'stop', 'stopped')
        self.wait_status('stopped', 'SHUTOFF')
        self.openstack('server', 'usb', 'add', 'stopped', key2['ID'],
                       '-f', 'json')
        listed = self.openstack('server', 'usb', 'list', 'stopped',
                                '-f', 'json')
        self.assertEqual([key2['ID']], [d['ID'] for d in listed])
        self.openstack('server', 'start', 'stopped')
        self.wait_status('stopped', 'ACTIVE')
        listed = self.openstack('server', 'usb', 'list', 'stopped',
                                '-f', 'json')
        self.assertEqual([(key2['ID'], 'attached')],
                         [(d['ID'], d['Status']) for d in listed])

        # Who holds what, from the host's side.
        holders = {d['ID']: d['Server ID'] for d in self.openstack(
            'usb', 'device', 'list', '--host', HOST, '-f', 'json')}
        self.assertEqual(running['id'], holders[key1['ID']])
        self.assertEqual(stopped['id'], holders[key2['ID']])

        # keystone's roles hold: the reader of project "demo" sees
        # neither the host's devices nor the admin's servers and may not
        # attach; its member may not list the host's devices either.
        openstack = os.path.join(BIN, 'openstack')
        reader = self.as_user('demo-reader')
        refused = self.run_cli(openstack, 'usb', 'device', 'list', '--host',
                               HOST, env=reader, expect_ok=False)
        self.assertNotEqual(0, refused.returncode)
        self.assertIn('HTTP 403', refused.stderr)
        listed = self.run_cli(openstack, 'server', 'list', '-f', 'json',
                              env=reader)
        self.assertEqual([], json.loads(listed.stdout))
        refused = self.run_cli(openstack, 'server', 'usb', 'add',
                               running['id'], key1['ID'], env=reader,
                               expect_ok=False)
        self.assertIn('No Server found for %s' % running['id'],
                      refused.stderr)
        refused = self.run_cli(openstack, 'usb', 'device', 'list', '--host',
                               HOST, env=self.as_user('demo-member'),
                               expect_ok=False)
        self.assertIn('HTTP 403', refused.stderr)

        # 4. Detach.
        self.openstack('server', 'usb', 'remove', '--wait', 'running',
                       key1['ID'])
        self.assertEqual([], self.openstack('server', 'usb', 'list',
                                            'running', '-f', 'json'))
        events = self.openstack('server', 'event', 'list', 'running',
                                '-f', 'json')
        self.assertEqual({'create', 'usb_attach', 'usb_detach'},
                         {e['Action'] for e in events})

        # The nova command works with the same environment.
        result = self.run_cli(os.path.join(BIN, 'nova'), 'host-usb-list',
                              HOST)
        self.assertIn(key2['ID'], result.stdout)

        # 5. The devices' projects and quotas.
        self.openstack('server', 'usb', 'remove', '--wait', 'stopped',
                       key2['ID'])
        self.grants_and_quota(key1['ID'], key2['ID'], dongle['ID'])

        # Ctrl-C: everything stops, nothing is left.
        self.ctrl_c()

    def grants_and_quota(self, key1, key2, dongle):
        """The demo devices are project demo's by the grants the sandbox
        made at start, through the API; an admin's grant of an unknown
        project is refused by keystone's word; a grant removed takes its
        device back from the member's server; the member's YubiKeys are
        capped by a limit in keystone.
        """
        granted = self.sandbox.find(
            r'^\s+\.\.\. granted the (\d+) demo USB devices to project '
            r'demo \((\w+)\)$')
        self.assertIsNotNone(granted, 'no grant in the progress lines')
        count, demo_id = granted
        self.assertEqual('3', count)
        grants = [{'Project ID': demo_id, 'Source': 'grant'}]
        self.assertEqual(grants, self.openstack(
            'usb', 'device', 'grant', 'list', key1, '-f', 'json'))
        error = self.refused('usb', 'device', 'grant', 'add', key1,
                             'no-such-project')
        self.assertIn('Project ID no-such-project is not a valid project',
                      error)
        self.assertIn('HTTP 400', error)
        self.assertEqual(grants, self.openstack(
            'usb', 'device', 'grant', 'list', key1, '-f', 'json'))

        # The member sees the granted devices, and only those.
        member = self.as_user('demo-member')
        self.openstack('server', 'create', '--flavor', 'tiny', '--image',
                       'empty', '--nic', 'none', '--wait', 'member-vm',
                       '-f', 'json', env=member)
        available = self.openstack('server', 'usb', 'available',
                                   'member-vm', '-f', 'json', env=member)
        self.assertEqual({key1, key2, dongle},
                         {d['ID'] for d in available})

        # A limit of one YubiKey for project demo: the second is refused.
        self.openstack('limit', 'create', '--service', 'nova', '--region',
                       'RegionOne', '--project', 'demo', '--resource-limit',
                       '1', YUBIKEY_QUOTA, '-f', 'json')
        attached = self.openstack('server', 'usb', 'add', 'member-vm', key1,
                                  '-f', 'json', env=member)
        self.assertEqual('attached', attached['status'])
        error = self.refused('server', 'usb', 'add', 'member-vm', key2,
                             env=member)
        self.assertIn('Quota exceeded for %s' % YUBIKEY_QUOTA, error)
        self.assertIn('HTTP 403', error)

        # The grant removed: the device leaves the member's server.
        self.openstack('usb', 'device', 'grant', 'remove', key1, demo_id)
        self.assertEqual([], self.openstack(
            'server', 'usb', 'list', 'member-vm', '-f', 'json', env=member))
        events = self.openstack('server', 'event', 'list', 'member-vm',
                                '-f', 'json', env=member)
        self.assertIn('usb_revoke', [e['Action'] for e in events])

    def test_real_guests_on_real_libvirt_then_ctrl_c(self):
        """Without recorded devices: Nova's driver on a real libvirtd.

        This machine's own USB devices are listed (a host without a USB
        subsystem has none); servers are real QEMU guests; a USB
        controller added while a server is stopped is in the real domain
        once it starts. Ctrl-C destroys the guests and stops the libvirtd
        and virtlogd the sandbox started.
        """
        if os.geteuid() != 0:
            self.skipTest('only root may start libvirtd')
        for binary in ('libvirtd', 'virtlogd', 'qemu-system-x86_64'):
            if not any(os.access(os.path.join(d, binary), os.X_OK)
                       for d in ('/usr/sbin', '/usr/bin', '/sbin')):
                self.skipTest('%s is not installed' % binary)
        self.start('--libvirt', 'real')
        self.assertIn('hypervisor', self.sandbox.output)
        self.assertRegex(self.sandbox.output,
                         r'hypervisor +REAL +libvirtd')
        self.assertRegex(self.sandbox.output,
                         r'host USB devices +REAL +\d+ devices of this host')
        self.openstack('usb', 'device', 'list', '--host', HOST,
                       '-f', 'json')

        server = self.openstack(
            'server', 'create', '--flavor', 'tiny', '--image', 'empty',
            '--nic', 'none', '--wait', 'guest', '-f', 'json')
        self.assertEqual('ACTIVE', server['status'])
        qemu = qemu_of(server['id'])
        self.assertIsNotNone(qemu, 'no QEMU process for the server')
        self.openstack('server', 'stop', 'guest')
        self.wait_status('guest', 'SHUTOFF')
        self.openstack('server', 'usb', 'controller', 'add', 'guest',
                       'qemu-xhci', '--ports', '4', '-f', 'json')
        self.openstack('server', 'start', 'guest')
        self.wait_status('guest', 'ACTIVE')
        controllers = self.openstack('server', 'usb', 'controller', 'list',
                                     'guest', '-f', 'json')
        self.assertIn('qemu-xhci', [c['Model'] for c in controllers])
        qemu = qemu_of(server['id'])
        self.assertIsNotNone(qemu)
        with open('/proc/%d/cmdline' % qemu, 'rb') as cmdline:
            self.assertIn(b'qemu-xhci', cmdline.read())

        daemons = [p for p in descendants(self.sandbox.process.pid)]
        self.ctrl_c(others=[qemu])
        self.assertEqual([], [p for p in daemons if alive(p)])
        self.assertIsNone(qemu_of(server['id']))
