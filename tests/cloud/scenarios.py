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

"""What users and the admin of the cloud do, with the real ``openstack``.

Each scenario is a method ``scenario_<n>_<what>``, run in order (later ones
use the servers earlier ones made). Every command is python-openstackclient
with nova-usb's plugin as a separate process, logged in through keystone
with its user's password; its command line, exit status and output go into
the transcript. Users: the admin, ``member-a`` and ``reader-a`` (roles
member and reader of project A), ``member-b`` (member of project B).
"""

import json
import os
import subprocess
import time
import traceback

from tests.cloud import crashes
from tests.cloud import deploy
from tests.cloud import tenancy

OPENSTACK = os.path.join(deploy.BIN, 'openstack')
# The microversion Nova 34's client features here need (--nic none: 2.37).
COMPUTE_API_VERSION = '2.96'
FLAVOR = {'name': 'tiny', 'ram': 64, 'vcpus': 1, 'disk': 1}
IMAGE = 'empty'
ACTIVE_TIMEOUT = 300
# The nested host's sticks (tests/e2e/topology.json) and what QEMU's
# "info usb" calls them.
STICK_LIVE = 'NOVAUSB-A'
STICK_COLD = 'NOVAUSB-B'
STICK_OTHER = 'NOVAUSB-C'
STICK_PRODUCT = 'QEMU USB HARDDRIVE'
STICK_VENDOR = '46f4'
# NOVAUSB-B's QEMU device on the nested host, to pull out and plug back.
STICK_COLD_DEVICE = 'stick-b'
# The keyboard and the tablet (HID devices, one vendor): listed, not
# assignable ([usb] device_spec selects the sticks' vendor only).
HID_VENDOR = '0627'
# The resource class nova-usb reports the sticks as (vendor 46f4, product
# 0001: doc/source/admin/scheduling.rst) and a flavor asking for one.
STICK_FLAVOR = dict(FLAVOR, name='with-a-stick')
STICK_RESOURCE = 'resources:CUSTOM_USB_46F4_0001=1'


def needs_usb_node(scenario):
    """A scenario that runs only when the cloud has its USB node."""
    scenario.needs_usb_node = True
    return scenario


class CommandFailed(Exception):

    def __init__(self, argv, code, out, err):
        super().__init__('openstack %s: exit %d: %s' % (
            ' '.join(argv), code, (err or out).strip()[-800:]))
        self.code = code
        self.out = out
        self.err = err


class Result(object):

    def __init__(self, name, passed, seconds, detail=''):
        self.name = name
        self.passed = passed
        self.seconds = seconds
        self.detail = detail


class Scenarios(crashes.CrashScenarios, tenancy.TenancyScenarios):

    def __init__(self, cloud, transcript):
        self.cloud = cloud
        self.keystone = cloud.keystone
        self.transcript = open(transcript, 'a')
        self.users = {}    # name -> OS_* environment
        self.servers = {}  # label -> server id
        self.domain_names = {}  # server id -> libvirt domain name

    # -- the cloud's accounts, flavor, image and zones ----------------------

    def prepare(self):
        """Projects, users with real roles, a flavor, an image in glance,
        one availability zone per compute node.
        """
        keystone = self.keystone
        self.users['admin'] = keystone.admin_credentials()
        for name, project, roles in (
                ('member-a', 'project-a', ['member']),
                ('reader-a', 'project-a', ['reader']),
                ('member-b', 'project-b', ['member'])):
            secret = keystone.user(name, project, roles)
            self.users[name] = keystone.credentials(name, secret, project)
        admin = keystone.admin()
        admin.compute.create_flavor(is_public=True, **FLAVOR)
        # A 1 MiB disk of zeros: nothing boots from it, the guest stays in
        # its firmware, which is all a USB attach needs. It has no
        # operating system to shut down: stop powers it off at once.
        image = admin.image.create_image(
            name=IMAGE, disk_format='raw', container_format='bare',
            visibility='public', data=b'\0' * (1 << 20),
            os_shutdown_timeout=0)
        self.note('# image %s in glance: %s' % (IMAGE, image.status))
        for host in self.cloud.compute_hosts():
            aggregate = admin.compute.create_aggregate(
                name=host, availability_zone=host)
            admin.compute.add_host_to_aggregate(aggregate, host)

    def environment_block(self):
        lines = ['# the admin of the cloud:']
        lines += ['export %s=%s' % item
                  for item in sorted(self.users['admin'].items())]
        return '\n'.join(lines)

    # -- commands ----------------------------------------------------------

    def note(self, text):
        self.transcript.write(text + '\n')
        self.transcript.flush()

    def openstack(self, user, *argv, fmt='json'):
        """``openstack ARGV`` as ``user``; parsed JSON output, or the text
        when ``fmt`` is None. Raises CommandFailed on a non-zero exit.
        """
        argv = list(argv) + (['-f', fmt] if fmt else [])
        env = dict(os.environ)
        env.update(self.users[user])
        env['OS_COMPUTE_API_VERSION'] = COMPUTE_API_VERSION
        began = time.monotonic()
        result = subprocess.run([OPENSTACK] + argv, env=env,
                                capture_output=True, text=True, timeout=300)
        self.note('$ openstack %s    # as %s, exit %d, %.1f s\n%s%s' % (
            ' '.join(argv), user, result.returncode,
            time.monotonic() - began, result.stdout, result.stderr))
        if result.returncode:
            raise CommandFailed(argv, result.returncode, result.stdout,
                                result.stderr)
        if fmt == 'json':
            return json.loads(result.stdout or 'null')
        return result.stdout

    def background(self, *argv, user='member-a'):
        """``openstack ARGV`` as ``user``, started and not waited for (a
        Popen with its output in pipes).
        """
        env = dict(os.environ)
        env.update(self.users[user])
        env['OS_COMPUTE_API_VERSION'] = COMPUTE_API_VERSION
        self.note('$ openstack %s &    # as %s' % (' '.join(argv), user))
        return subprocess.Popen([OPENSTACK] + list(argv), env=env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def refused(self, user, *argv, says=()):
        """``openstack ARGV`` as ``user`` fails, its error saying each of
        ``says`` (case-insensitive); returns the error text.
        """
        try:
            self.openstack(user, *argv)
        except CommandFailed as failure:
            text = failure.err + failure.out
            for words in says:
                if words.lower() not in text.lower():
                    raise AssertionError('%r does not say %r: %s' % (
                        ' '.join(argv), words, text.strip()))
            return text
        raise AssertionError('%s was allowed to %s' % (user, ' '.join(argv)))

    def wait_status(self, user, server, status, timeout=ACTIVE_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            shown = self.openstack(user, 'server', 'show', server,
                                   '-c', 'status',
                                   '-c', 'OS-EXT-STS:task_state')
            if shown['status'] == status and not shown.get(
                    'OS-EXT-STS:task_state'):
                return
            if shown['status'] == 'ERROR' or time.monotonic() > deadline:
                raise AssertionError('server %s is %s, not %s' % (
                    server, shown['status'], status))
            time.sleep(2)

    def wait_for(self, predicate, what, timeout=180):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError('not within %d s: %s' % (timeout, what))
            time.sleep(3)
        self.note('# %s' % what)

    def create_server(self, user, name, host, flavor=FLAVOR['name'],
                      wait=True):
        """A server of ``user`` on ``host`` (its availability zone; None
        lets the scheduler choose), once ACTIVE (``wait_active``; without
        ``wait``, the caller waits, so that servers boot side by side).
        """
        zone = ['--availability-zone', host] if host else []
        created = self.openstack(
            user, 'server', 'create', '--flavor', flavor, '--image', IMAGE,
            '--nic', 'none', *zone, name, '-c', 'id')
        self.servers[name] = created['id']
        if wait:
            self.wait_active(user, created['id'], host)
        return created['id']

    def wait_active(self, user, server, host):
        """Until ``user``'s new server is ACTIVE, on ``host`` if named."""
        self.wait_status(user, server, 'ACTIVE')
        shown = self.openstack('admin', 'server', 'show', server,
                               '-c', 'OS-EXT-SRV-ATTR:host')
        assert host is None or shown['OS-EXT-SRV-ATTR:host'] == host, shown

    # -- the scenarios -----------------------------------------------------

    def scenario_01_admin_lists_each_node(self):
        for host in self.cloud.compute_hosts():
            devices = self.device_listing(host)
            self.note('# %s: %d USB devices' % (host, len(devices)))
            assert isinstance(devices, list), devices
            if host != self.cloud.usb_host:
                continue
            hid = [d for d in devices if d['Vendor ID'] == HID_VENDOR]
            assert len(hid) == 2 and not any(
                d['Assignable'] for d in hid), devices
            by_serial = {d['Serial']: d for d in devices}
            assert all(by_serial[serial]['Assignable'] for serial in (
                STICK_LIVE, STICK_COLD, STICK_OTHER)), devices
        for user in ('member-a', 'reader-a', 'member-b'):
            self.refused(user, 'usb', 'device', 'list', '--host',
                         deploy.LOCAL_NODE, says=['policy'])

    def scenario_02_member_boots_a_server_on_node1(self):
        server = self.create_server('member-a', 'a-node1', deploy.LOCAL_NODE)
        assert self.openstack('member-a', 'server', 'usb', 'list',
                              server) == []
        available = self.openstack('member-a', 'server', 'usb', 'available',
                                   server)
        assert available == [], available

    def scenario_03_project_b_cannot_see_or_touch_a(self):
        server = self.servers['a-node1']
        names = [s['Name'] for s in
                 self.openstack('member-b', 'server', 'list')]
        assert 'a-node1' not in names, names
        self.refused('member-b', 'server', 'show', server,
                     says=['no server'])
        self.refused('member-b', 'server', 'usb', 'list', server)
        self.refused('member-b', 'server', 'usb', 'add', server,
                     '00000000-0000-5000-8000-000000000000')

    def scenario_04_reader_lists_but_cannot_attach(self):
        server = self.servers['a-node1']
        assert self.openstack('reader-a', 'server', 'usb', 'list',
                              server) == []
        self.openstack('reader-a', 'server', 'usb', 'controller', 'list',
                       server)
        device = (self.stick(STICK_OTHER)['ID'] if self.cloud.usb_host
                  else '00000000-0000-5000-8000-000000000000')
        self.refused('reader-a', 'server', 'usb', 'add', server, device,
                     says=['policy'])

    def device_listing(self, host=None):
        """``openstack usb device list --host`` as the admin, of ``host``
        or the USB node.
        """
        return self.openstack('admin', 'usb', 'device', 'list', '--host',
                              host or self.cloud.usb_host)

    def stick(self, serial):
        """The USB node's stick with ``serial``, as the admin lists it."""
        for device in self.device_listing():
            if device['Serial'] == serial:
                return device
        raise AssertionError('no stick %s on %s' % (serial,
                                                    self.cloud.usb_host))

    def domain_name(self, server):
        """The server's libvirt domain name (asked once)."""
        if server not in self.domain_names:
            self.domain_names[server] = self.openstack(
                'admin', 'server', 'show', server, '-c',
                'OS-EXT-SRV-ATTR:instance_name')[
                'OS-EXT-SRV-ATTR:instance_name']
        return self.domain_names[server]

    def sticks_in_guest(self, server):
        """How many USB sticks the server's QEMU holds (HMP info usb)."""
        name = self.domain_name(server)
        shown = self.cloud.usb_node.info_usb(name)
        self.note('# info usb of %s:\n%s' % (name, shown))
        return shown.count(STICK_PRODUCT)

    @needs_usb_node
    def scenario_05_grants_decide_who_may_use_a_stick(self):
        self.grants_decide_who_may_use_a_stick()

    @needs_usb_node
    def scenario_06_live_attach_and_detach(self):
        stick = self.stick(STICK_LIVE)
        assert stick['Assignable'] and stick['Server ID'] is None, stick
        server = self.servers['a-usb']
        available = [d['ID'] for d in self.openstack(
            'member-a', 'server', 'usb', 'available', server)]
        assert stick['ID'] in available, available
        attached = self.openstack('member-a', 'server', 'usb', 'add',
                                  server, stick['ID'])
        assert attached['status'] == 'attached', attached
        assert self.sticks_in_guest(server) == 1
        assert self.stick(STICK_LIVE)['Server ID'] == server
        self.detach_while_qemu_does_not_answer(server, stick['ID'])
        assert self.sticks_in_guest(server) == 0
        assert self.stick(STICK_LIVE)['Server ID'] is None
        assert self.openstack('member-a', 'server', 'usb', 'list',
                              server) == []

    def detach_while_qemu_does_not_answer(self, server, stick):
        """The detach answers at once, also while the guest's QEMU does
        not answer (SIGSTOP: libvirt's device_del waits for it). QEMU
        unplugs a USB device without asking the guest, so a stopped QEMU
        is what keeps a USB detach waiting. Meanwhile the stick is listed
        ``detaching`` and the server action is in progress; once QEMU
        runs again (SIGCONT) the detach ends, and its event says so.
        """
        node = self.cloud.usb_node
        pid = node.run('cat /run/libvirt/qemu/%s.pid' %
                       self.domain_name(server)).strip()
        node.run('kill -STOP %s' % pid)
        self.note('# the QEMU of %s stopped (SIGSTOP %s)' % (server, pid))
        try:
            self.openstack('member-a', 'server', 'usb', 'remove', server,
                           stick, fmt=None)
            assert self.held(server) == [(stick, 'detaching')]
            detach = [e for e in self.openstack(
                'member-a', 'server', 'event', 'list', server)
                if e['Action'] == 'usb_detach']
            shown = self.openstack('member-a', 'server', 'event', 'show',
                                   server, detach[0]['Request ID'])
            assert [(e['event'], e['result']) for e in shown['events']] == [
                ('compute_usb_detach', None)], shown
        finally:
            node.run('kill -CONT %s' % pid)
            self.note('# the QEMU of %s runs again (SIGCONT)' % server)
        self.wait_for(lambda: self.held(server) == [],
                      'the stick detached from %s' % server, timeout=120)
        shown = self.openstack('member-a', 'server', 'event', 'show',
                               server, detach[0]['Request ID'])
        assert [(e['event'], e['result']) for e in shown['events']] == [
            ('compute_usb_detach', 'Success')], shown

    @needs_usb_node
    def scenario_07_cold_attach_then_start(self):
        host = self.cloud.usb_host
        stick = self.stick(STICK_COLD)
        server = self.create_server('member-a', 'a-usb-cold', host)
        self.openstack('member-a', 'server', 'stop', server, fmt=None)
        self.wait_status('member-a', server, 'SHUTOFF')
        attached = self.openstack('member-a', 'server', 'usb', 'add',
                                  server, stick['ID'])
        assert attached['status'] == 'attached', attached
        self.openstack('member-a', 'server', 'start', server, fmt=None)
        self.wait_status('member-a', server, 'ACTIVE')
        assert self.sticks_in_guest(server) == 1
        assert self.stick(STICK_COLD)['Server ID'] == server

    def held(self, server):
        """[(device id, status)] of ``openstack server usb list``."""
        return [(d['ID'], d['Status']) for d in self.openstack(
            'member-a', 'server', 'usb', 'list', server)]

    @needs_usb_node
    def scenario_08_hard_reboot_and_replug_keep_the_stick(self):
        """Nova rewrites the domain at a hard reboot: nova-usb keeps the
        stick in it. Pulled out of the host, the stick is listed missing;
        plugged back, nova-usb gives it back to the running server.
        """
        server = self.servers['a-usb-cold']
        stick = self.stick(STICK_COLD)['ID']
        self.openstack('member-a', 'server', 'reboot', '--hard', server,
                       fmt=None)
        self.wait_status('member-a', server, 'ACTIVE')
        assert self.sticks_in_guest(server) == 1
        assert self.held(server) == [(stick, 'attached')]

        self.cloud.usb_node.unplug(STICK_COLD_DEVICE)
        self.note('# %s pulled out of the nested host (QMP device_del)'
                  % STICK_COLD)
        self.wait_for(lambda: self.held(server) == [(stick, 'missing')],
                      '%s listed missing' % STICK_COLD)
        self.cloud.usb_node.plug(STICK_COLD_DEVICE)
        self.note('# %s plugged back (QMP device_add)' % STICK_COLD)
        self.wait_for(lambda: self.held(server) == [(stick, 'attached')],
                      '%s listed attached again' % STICK_COLD)
        self.wait_for(lambda: self.sticks_in_guest(server) == 1,
                      '%s back in the guest' % STICK_COLD)
        assert self.stick(STICK_COLD)['Server ID'] == server

    @needs_usb_node
    def scenario_09_device_on_another_host_refused(self):
        stick = self.stick(STICK_OTHER)
        server = self.servers['a-node1']
        # The admin learns where the device is (409); the member is told
        # only that the server's host has no such device (404), as
        # doc/source/user/api.rst says: other hosts' devices stay unknown.
        self.refused('admin', 'server', 'usb', 'add', server, stick['ID'],
                     says=['on another compute host', 'HTTP 409'])
        self.refused('member-a', 'server', 'usb', 'add', server,
                     stick['ID'],
                     says=["not on the server's host", 'HTTP 404'])
        assert self.stick(STICK_OTHER)['Server ID'] is None

    def scenario_10_rabbitmq_restarted(self):
        self.cloud.rabbit.stop()
        self.cloud.rabbit.start()
        self.note('# RabbitMQ restarted')
        # The services find the broker again by themselves (oslo.messaging
        # reconnects); once each compute node's reports (sent over RPC to
        # nova-conductor) arrive again, the next attach must work as such.
        for host in self.cloud.compute_hosts():
            self.cloud.wait_compute_up(host, timeout=300)
        self.note('# every nova-compute reports again')
        if self.cloud.usb_host:
            server = self.servers['a-usb']
            stick = self.stick(STICK_LIVE)
            attached = self.openstack('member-a', 'server', 'usb', 'add',
                                      server, stick['ID'])
            assert attached['status'] == 'attached', attached
            assert self.sticks_in_guest(server) == 1
            self.openstack('member-a', 'server', 'usb', 'remove', '--wait',
                           server, stick['ID'], fmt=None)
            return
        server = self.servers['a-node1']
        self.openstack('member-a', 'server', 'stop', server, fmt=None)
        self.wait_status('member-a', server, 'SHUTOFF')
        self.openstack('member-a', 'server', 'start', server, fmt=None)
        self.wait_status('member-a', server, 'ACTIVE')

    @needs_usb_node
    def scenario_11_flavor_asking_for_a_stick(self):
        """Placement picks the host and the device: a server whose flavor
        asks for a stick, with no zone given, lands on the USB node with
        one of the free sticks in its QEMU from its first start; its
        delete frees it.
        """
        free = {d['ID'] for d in self.device_listing()
                if d['Vendor ID'] == STICK_VENDOR and d['Assignable'] and
                d['Server ID'] is None}
        assert free
        self.openstack('admin', 'flavor', 'create', '--ram',
                       str(STICK_FLAVOR['ram']), '--vcpus',
                       str(STICK_FLAVOR['vcpus']), '--disk',
                       str(STICK_FLAVOR['disk']), '--property',
                       STICK_RESOURCE, STICK_FLAVOR['name'])
        server = self.create_server('member-a', 'a-flavor', None,
                                    flavor=STICK_FLAVOR['name'])
        shown = self.openstack('admin', 'server', 'show', server,
                               '-c', 'OS-EXT-SRV-ATTR:host')
        assert shown['OS-EXT-SRV-ATTR:host'] == self.cloud.usb_host, shown
        held = self.held(server)
        assert [status for _, status in held] == ['attached'], held
        assert held[0][0] in free, (held, free)
        assert self.sticks_in_guest(server) == 1
        self.openstack('member-a', 'server', 'delete', '--wait', server,
                       fmt=None)
        holders = {d['ID']: d['Server ID'] for d in self.device_listing()}
        assert holders[held[0][0]] is None, holders

    @needs_usb_node
    def scenario_12_placement_counts_and_limits(self):
        self.placement_counts_and_limits()

    # nova-compute killed between two steps of changes (tests/cloud/
    # crashes.py): four rounds on the USB node, then node 1's controllers.

    @needs_usb_node
    def scenario_13_killed_after_libvirt_before_the_save(self):
        self.crash_round_1_after_libvirt()

    @needs_usb_node
    def scenario_14_killed_after_the_saves(self):
        self.crash_round_2_after_the_saves()

    @needs_usb_node
    def scenario_15_killed_in_a_give_back_and_a_cold_attach(self):
        self.crash_round_3_give_back_and_cold_attach()

    @needs_usb_node
    def scenario_16_killed_before_a_cold_attach_saves(self):
        self.crash_round_4_cold_attach_before_the_save()

    def scenario_17_killed_after_controller_saves(self):
        self.crash_controller_changes()

    @needs_usb_node
    def scenario_18_grant_removed_while_in_use(self):
        self.grant_removed_while_in_use()

    @needs_usb_node
    def scenario_19_rule_changed_at_start(self):
        self.rule_changed_at_start()

    # -- running them ------------------------------------------------------

    def run(self, only=None):
        names = sorted(name for name in dir(self)
                       if name.startswith('scenario_'))
        if only:
            names = [n for n in names if any(o in n for o in only)]
        if self.cloud.usb_host is None:
            names = [n for n in names if not getattr(
                getattr(self, n), 'needs_usb_node', False)]
        results = []
        for name in names:
            self.note('\n### %s' % name)
            began = time.monotonic()
            try:
                getattr(self, name)()
            except Exception:
                result = Result(name, False, time.monotonic() - began,
                                traceback.format_exc())
            else:
                result = Result(name, True, time.monotonic() - began)
            results.append(result)
            print('cloud: %-6s %6.1f s  %s' % (
                'passed' if result.passed else 'FAILED', result.seconds,
                name), flush=True)
            if not result.passed:
                print(result.detail, flush=True)
                self.note(result.detail)
        return results
