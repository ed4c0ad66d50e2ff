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

"""nova-compute killed between two steps of a change, in the cloud.

Every crash point of tests/functional/test_crash.py, with a real process
and SIGKILL: a scenario arms the points (tests/cloud/crashpoints.py), starts
the changes with the ``openstack`` CLI, waits until each stands at its
point, checks what the hypervisor shows then, kills nova-compute by its
pid and starts it again. Then the domain (live and persistent), the stored
requests, the claims and the server's allocation in placement must agree,
the stored requests having won
(doc/source/admin/compute.rst, "After a crash").

Changes that hold the host's USB lock at their point (an attach) cannot
stand beside another attach or a give-back, so the points come in four
rounds on the USB node (one kill each), and one round per controller
change on node 1 (controllers need no USB device).
"""

from nova_usb.virt import guest as usb_guest
from tests.cloud import crashpoints
from tests.cloud import deploy

# The nested host's sticks (tests/e2e/topology.json) the rounds use, by
# serial, and NOVAUSB-A's QEMU device, pulled out and plugged back.
STICK_A, STICK_B, STICK_C = 'NOVAUSB-A', 'NOVAUSB-B', 'NOVAUSB-C'
STICK_A_DEVICE = 'stick-a'


def point(step, when, server):
    return crashpoints.line(step, when, server)


class CrashScenarios(object):
    """Scenarios of tests.cloud.scenarios.Scenarios (a mixin): the same
    users, servers and commands.
    """

    # -- the rounds on the USB node ------------------------------------

    def crash_round_1_after_libvirt(self):
        """A live attach stopped after libvirt attached the stick, a live
        detach after libvirt detached one; neither saved.
        """
        attaching, detaching = (self.servers['a-usb'],
                                self.servers['a-usb-cold'])
        a, b = self.stick_ids(STICK_A, STICK_B)
        self.assert_agree(attaching, [])
        self.assert_agree(detaching, [b])
        listing = self.device_listing()

        def stopped():
            assert self.in_guest(attaching) == {a}
            assert self.in_guest(detaching) == set()
        self.crash(self.cloud.usb_host, [
            point('guest.attach', 'after', attaching),
            point('guest.detach', 'after', detaching),
        ], lambda: [
            self.background('server', 'usb', 'add', attaching, a),
            self.background('server', 'usb', 'remove', '--wait', detaching, b),
        ], stopped)
        # The attach is undone, the detached stick given back.
        self.assert_agree(attaching, [])
        self.assert_agree(detaching, [b])
        assert self.device_listing() == listing

    def crash_round_2_after_the_saves(self):
        """A live attach and a live detach stopped after their saves, and
        a stopped server's detach after its save, before its libvirt
        definition is cleaned.
        """
        attaching, detaching = (self.servers['a-usb'],
                                self.servers['a-usb-cold'])
        a, b, c = self.stick_ids(STICK_A, STICK_B, STICK_C)
        stopped_server = self.stopped_usb_server(c)
        self.assert_agree(stopped_server, [c], running=False)

        def stopped():
            assert self.in_guest(attaching) == {a}
            assert self.in_guest(detaching) == set()
            assert self.in_guest(stopped_server, persistent=True) == {c}
        self.crash(self.cloud.usb_host, [
            point('save', 'after', attaching),
            point('save', 'after', detaching),
            point('guest.detach_persistent', 'before', stopped_server),
        ], lambda: [
            self.background('server', 'usb', 'add', attaching, a),
            self.background('server', 'usb', 'remove', '--wait', detaching, b),
            self.background('server', 'usb', 'remove', '--wait',
                            stopped_server, c),
        ], stopped)
        self.assert_agree(attaching, [a])
        self.assert_agree(detaching, [])
        self.assert_agree(stopped_server, [], running=False)

    def crash_round_3_give_back_and_cold_attach(self):
        """A give-back stopped between its detach of the stale device and
        its attach, and a stopped server's attach after its save.
        """
        server, stopped_server = (self.servers['a-usb'],
                                  self.servers['a-usb-stopped'])
        a, c = self.stick_ids(STICK_A, STICK_C)
        self.assert_agree(server, [a])
        node = self.cloud.usb_node
        give_back = point('guest.detach', 'after', server)

        def start():
            node.unplug(STICK_A_DEVICE)
            self.note('# %s pulled out of the nested host (QMP device_del)'
                      % STICK_A)
            self.wait_for(lambda: self.held(server) == [(a, 'missing')],
                          '%s listed missing' % STICK_A)
            node.plug(STICK_A_DEVICE)
            self.note('# %s plugged back (QMP device_add)' % STICK_A)
            # The attach holds the host's USB lock at its point: only once
            # the give-back stands at its own.
            self.wait_for(lambda: give_back in self.cloud.reached(
                self.cloud.usb_host), 'the give-back at its crash point')
            return [self.background('server', 'usb', 'add', stopped_server,
                                    c)]

        def stopped():
            assert self.in_guest(server) == set()
        self.crash(self.cloud.usb_host, [
            give_back, point('save', 'after', stopped_server)],
            start, stopped)
        self.assert_agree(server, [a])
        self.assert_agree(stopped_server, [c], running=False)

    def crash_round_4_cold_attach_before_the_save(self):
        """A stopped server's attach stopped before its save."""
        stopped_server = self.servers['a-usb-stopped']
        c, b = self.stick_ids(STICK_C, STICK_B)
        self.crash(self.cloud.usb_host, [
            point('save', 'before', stopped_server)], lambda: [
            self.background('server', 'usb', 'add', stopped_server, b)])
        self.assert_agree(stopped_server, [c], running=False)
        # Started, it has the stick it requests, and only that one.
        self.openstack('member-a', 'server', 'start', stopped_server,
                       fmt=None)
        self.wait_status('member-a', stopped_server, 'ACTIVE')
        self.assert_agree(stopped_server, [c])

    def stopped_usb_server(self, stick):
        """A stopped server of member-a on the USB node that was given
        ``stick`` while it ran: its persistent definition names it.
        """
        server = self.create_server('member-a', 'a-usb-stopped',
                                    self.cloud.usb_host)
        self.openstack('member-a', 'server', 'usb', 'add', server, stick)
        self.openstack('member-a', 'server', 'stop', server, fmt=None)
        self.wait_status('member-a', server, 'SHUTOFF')
        assert self.in_guest(server, persistent=True) == {stick}
        return server

    # -- the controller rounds on node 1 -------------------------------

    def crash_controller_changes(self):
        """On node 1: a controller add, then a controller remove, each
        killed right after its save (so both are kept).
        """
        host = deploy.LOCAL_NODE
        server = self.servers['a-node1']
        self.openstack('member-a', 'server', 'stop', server, fmt=None)
        self.wait_status('member-a', server, 'SHUTOFF')

        def controllers():
            return {(c['Index'], c['Model']) for c in self.openstack(
                'member-a', 'server', 'usb', 'controller', 'list', server)}
        before = controllers()
        self.crash(host, [point('save', 'after', server)], lambda: [
            self.background('server', 'usb', 'controller', 'add', server,
                            'ehci')])
        added = controllers() - before
        assert [model for _, model in added] == ['ehci'], added
        index = str(added.pop()[0])
        self.crash(host, [point('save', 'after', server)], lambda: [
            self.background('server', 'usb', 'controller', 'remove', server,
                            index)])
        assert controllers() == before
        self.openstack('member-a', 'server', 'start', server, fmt=None)
        self.wait_status('member-a', server, 'ACTIVE')

    # -- the means ------------------------------------------------------

    def crash(self, host, points, start, stopped=None):
        """Arm ``points`` on ``host``, ``start()`` the changes (it returns
        their background ``openstack`` processes); once every change
        stands at its point (and ``stopped()`` checked what the hypervisor
        shows then), SIGKILL nova-compute and start it again.
        """
        points = set(points)
        self.cloud.arm(host, sorted(points))
        started = []
        try:
            started += start()

            def all_stopped():
                for process in started:
                    if process.poll() is not None:
                        raise AssertionError(
                            '%s ended before its crash point: %s' % (
                                ' '.join(process.args[1:]),
                                process.communicate()))
                return self.cloud.reached(host) >= points
            self.wait_for(all_stopped, 'every change at its crash point on '
                          '%s: %s' % (host, sorted(points)))
            if stopped is not None:
                stopped()
            self.cloud.disarm(host)
            self.cloud.kill_compute(host)
            self.note('# nova-compute on %s killed (SIGKILL)' % host)
            self.cloud.restart_compute(host)
            self.note('# nova-compute on %s up again' % host)
        finally:
            self.cloud.disarm(host)
            # Their callers would have nova-api's answer only at its
            # [DEFAULT] rpc_response_timeout (tests/functional/test_crash.py
            # covers it), or wait for a detach that cannot end (--wait):
            # they are ended here, by their pids.
            for process in started:
                if process.poll() is None:
                    process.terminate()
                process.wait()

    def stick_ids(self, *serials):
        by_serial = {d['Serial']: d['ID'] for d in self.device_listing()}
        return [by_serial[serial] for serial in serials]

    def in_guest(self, server, persistent=False):
        """The ids of the devices nova-usb attached to the server's domain
        on the USB node, live or in its persistent definition.
        """
        xml = self.cloud.usb_node.domain_xml(self.domain_name(server),
                                             persistent)
        return set(usb_guest.hostdevs_in(xml)[0])

    def assert_agree(self, server, devices, running=True):
        """The server's stored requests are ``devices``, all attached; the
        claims (the admin's listing) give it exactly those, and so does its
        allocation in placement; its domain has
        them live (and its QEMU holds as many sticks) and in its
        persistent definition. A stopped server's definition has no device
        it does not request (Nova writes the requested ones at its start).
        """
        wanted = set(devices)
        self.wait_for(lambda: set(self.held(server)) == {
            (d, 'attached') for d in wanted},
            'the requests of %s: %s' % (server, sorted(wanted)))
        holders = {d['ID']: d['Server ID'] for d in self.device_listing()}
        assert {d for d, h in holders.items() if h == server} == wanted, (
            holders)
        self.wait_for(lambda: self.allocated_sticks(server) == wanted,
                      'the allocation of %s in placement: %s' % (
                          server, sorted(wanted)))
        persistent = self.in_guest(server, persistent=True)
        if not running:
            assert persistent <= wanted, (persistent, wanted)
            return
        assert persistent == wanted, (persistent, wanted)
        self.wait_for(lambda: self.in_guest(server) == wanted,
                      'the live domain of %s: %s' % (server, sorted(wanted)))
        assert self.sticks_in_guest(server) == len(wanted)
