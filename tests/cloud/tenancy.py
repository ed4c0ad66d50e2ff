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

"""Devices that belong to projects, in the cloud, on the USB node.

The cloud's ``[usb] device_spec`` (tests/cloud/deploy.py) grants no stick
to any project and makes the stick without a serial flavor-only: the admin
grants the three others to project A through the API, and then

- project B (member-b) neither sees nor attaches them, the flavor-only
  stick is refused through the API to everyone;
- placement counts every stick project A holds, in its server's
  allocation, and a limit in keystone (Nova's unified limits) at what A
  holds answers A's next attach with 403;
- a grant removed while the stick is in a running guest takes it out of
  the guest, as an event A reads;
- a rule changed so that the API may no longer hand out a stick takes it
  out at nova-compute's start.
"""

from tests.cloud import crashes

# How placement counts the sticks (vendor 46f4, product 0001:
# doc/source/admin/scheduling.rst), and the limit of it in keystone.
STICK_CLASS = 'CUSTOM_USB_46F4_0001'
STICK_LIMIT = 'class:' + STICK_CLASS
# The rule that makes NOVAUSB-C flavor-only, in place of its first.
STICK_C_FOR_FLAVORS = ('{"vendor_id": "46f4", "serial": "%s", '
                       '"use": "flavor"}' % crashes.STICK_C)
# What a member is told of a device it may not have: the answer for an id
# that no host has (doc/source/user/api.rst).
UNKNOWN_TO_MEMBER = ["not on the server's host", 'HTTP 404']
# Placement's microversion for usages per project.
USAGES_VERSION = '1.9'


class TenancyScenarios(object):
    """Scenarios of tests.cloud.scenarios.Scenarios (a mixin): the same
    users, servers and commands.
    """

    def project_id(self, name):
        return self.keystone.project(name).id

    def available(self, user, server):
        """The ids ``openstack server usb available`` offers ``user``."""
        return {d['ID'] for d in self.openstack(
            user, 'server', 'usb', 'available', server)}

    def flavor_only_stick(self):
        """The one flavor-only device, as the admin lists it: the stick
        without a serial.
        """
        sticks = [d for d in self.device_listing() if d['Use'] == 'flavor']
        assert len(sticks) == 1 and not sticks[0]['Serial'], sticks
        return sticks[0]

    def usb_usage(self, project):
        """How many sticks placement counts for ``project`` (a name)."""
        rows = self.openstack(
            'admin', 'resource', 'usage', 'show',
            '--os-placement-api-version', USAGES_VERSION,
            self.project_id(project))
        return sum(row['usage'] for row in rows
                   if row['resource_class'] == STICK_CLASS)

    def allocated_sticks(self, server):
        """The sticks (their providers are the devices' ids) in the
        server's allocation in placement.
        """
        rows = self.openstack('admin', 'resource', 'provider', 'allocation',
                              'show', server)
        return {row['resource_provider'] for row in rows
                if STICK_CLASS in row['resources']}

    def project_sticks(self, prefix):
        """{stick id: server id} of the sticks that the servers labelled
        ``prefix``... (one project's) hold, as the admin lists them.
        """
        servers = {server for label, server in self.servers.items()
                   if label.startswith(prefix)}
        return {d['ID']: d['Server ID'] for d in self.device_listing()
                if d['Server ID'] in servers}

    def revoke_events(self, user, server):
        return [e for e in self.openstack(user, 'server', 'event', 'list',
                                          server)
                if e['Action'] == 'usb_revoke']

    # -- the scenarios -------------------------------------------------

    def grants_decide_who_may_use_a_stick(self):
        """Until the admin grants them, A's member is offered no stick and
        may attach none; granted to project A through the API (no service
        restarted), A's member is offered exactly them and B's member still
        nothing (and may attach none). The stick without a serial is for
        flavors only: offered to no one, refused through the API to
        everyone.
        """
        host = self.cloud.usb_host
        a_server = self.create_server('member-a', 'a-usb', host, wait=False)
        b_server = self.create_server('member-b', 'b-usb', host, wait=False)
        self.wait_active('member-a', a_server, host)
        self.wait_active('member-b', b_server, host)
        sticks = self.stick_ids(crashes.STICK_A, crashes.STICK_B,
                                crashes.STICK_C)
        assert self.available('member-a', a_server) == set()
        self.refused('member-a', 'server', 'usb', 'add', a_server,
                     sticks[0], says=UNKNOWN_TO_MEMBER)
        project_a = self.project_id('project-a')
        for stick in sticks:
            granted = self.openstack('admin', 'usb', 'device', 'grant',
                                     'add', stick, project_a)
            assert granted['project_id'] == project_a, granted
        assert self.openstack('admin', 'usb', 'device', 'grant', 'list',
                              sticks[0]) == [
            {'Project ID': project_a, 'Source': 'grant'}]
        self.refused('member-a', 'usb', 'device', 'grant', 'list',
                     sticks[0], says=['policy'])
        assert self.available('member-a', a_server) == set(sticks)
        assert self.available('member-b', b_server) == set()
        self.refused('member-b', 'server', 'usb', 'add', b_server,
                     sticks[0], says=UNKNOWN_TO_MEMBER)

        flavor_only = self.flavor_only_stick()
        assert flavor_only['Assignable'], flavor_only
        self.refused('member-a', 'server', 'usb', 'add', a_server,
                     flavor_only['ID'], says=UNKNOWN_TO_MEMBER)
        self.refused('admin', 'server', 'usb', 'add', a_server,
                     flavor_only['ID'], says=['for flavors only', 'HTTP 409'])
        self.refused('admin', 'usb', 'device', 'grant', 'add',
                     flavor_only['ID'], project_a,
                     says=['for flavors only', 'HTTP 409'])
        # Nothing of it changed anything.
        assert self.held(a_server) == []
        assert not any(d['Server ID'] for d in self.device_listing()
                       if d['ID'] in sticks + [flavor_only['ID']])
        assert self.sticks_in_guest(a_server) == 0

    def placement_counts_and_limits(self):
        """Placement's usages for project A count every stick it holds,
        each in its server's allocation; with a project limit in keystone
        at what A holds, A's next attach answers 403 naming the limit, and
        changes nothing; the limit removed, the stick goes back.
        """
        server = self.servers['a-usb']
        live, other = self.stick_ids(crashes.STICK_A, crashes.STICK_C)
        held = self.project_sticks('a-')
        assert self.usb_usage('project-a') == len(held), held
        for stick, holder in held.items():
            assert stick in self.allocated_sticks(holder), (stick, holder)
        assert self.usb_usage('project-b') == 0

        self.openstack('member-a', 'server', 'usb', 'add', server, live)
        assert live in self.allocated_sticks(server)
        used = self.usb_usage('project-a')
        assert used == len(held) + 1, (used, held)

        # A limit that is not a number never reaches Nova: keystone's API
        # refuses it (the CLI would not even send it).
        identity = self.keystone.admin().identity
        service = next(identity.services(type='compute'))
        answer = identity.post('/limits', json={'limits': [{
            'project_id': self.project_id('project-a'),
            'service_id': service.id, 'region_id': 'RegionOne',
            'resource_name': STICK_LIMIT, 'resource_limit': 'two'}]})
        self.note('# POST /v3/limits with resource_limit "two": HTTP %d'
                  % answer.status_code)
        assert answer.status_code == 400, answer.text
        assert self.openstack('admin', 'limit', 'list') == []
        limit = self.openstack(
            'admin', 'limit', 'create', '--project',
            self.project_id('project-a'), '--service', 'nova', '--region',
            'RegionOne', '--resource-limit', str(used), STICK_LIMIT)
        try:
            self.refused('member-a', 'server', 'usb', 'add', server, other,
                         says=['HTTP 403', STICK_LIMIT,
                               'limit of %d' % used])
            assert self.held(server) == [(live, 'attached')]
            assert self.stick(crashes.STICK_C)['Server ID'] is None
            assert self.allocated_sticks(server) == {live}
            assert self.sticks_in_guest(server) == 1
            assert self.usb_usage('project-a') == used
        finally:
            self.openstack('admin', 'limit', 'delete', limit['id'], fmt=None)
        self.openstack('member-a', 'server', 'usb', 'remove', '--wait',
                       server, live, fmt=None)
        assert self.allocated_sticks(server) == set()
        assert self.usb_usage('project-a') == len(held)

    def grant_removed_while_in_use(self):
        """The admin removes project A's grant of the stick that A's
        running server holds: the stick leaves the guest (QEMU's ``info
        usb``), its request, its allocation; A's member reads why in the
        server's events (usb_revoke) and is offered the stick no more.
        """
        server = self.servers['a-usb']
        stick = self.stick(crashes.STICK_A)['ID']
        self.assert_agree(server, [stick])
        assert self.revoke_events('member-a', server) == []
        self.openstack('admin', 'usb', 'device', 'grant', 'remove', stick,
                       self.project_id('project-a'), fmt=None)
        self.assert_agree(server, [])
        events = self.revoke_events('member-a', server)
        assert len(events) == 1, events
        shown = self.openstack('member-a', 'server', 'event', 'show',
                               server, events[0]['Request ID'])
        assert [(e['event'], e['result']) for e in shown['events']] == [
            ('compute_usb_revoke', 'Success')], shown
        assert stick not in self.available('member-a', server)
        self.refused('member-a', 'server', 'usb', 'add', server, stick,
                     says=UNKNOWN_TO_MEMBER)
        self.refused('member-b', 'server', 'event', 'list', server)

    def rule_changed_at_start(self):
        """The operator makes NOVAUSB-C flavor-only in the USB node's
        ``[usb] device_spec`` and restarts its nova-compute: at its start,
        the stick leaves the running server of A that holds it through
        the API, as a usb_revoke event A reads. (The node keeps the
        changed rule: the last scenario on it.)
        """
        server = self.servers['a-usb-stopped']
        stick = self.stick(crashes.STICK_C)['ID']
        self.assert_agree(server, [stick])
        self.cloud.device_spec = tuple(
            STICK_C_FOR_FLAVORS if crashes.STICK_C in rule else rule
            for rule in self.cloud.device_spec)
        node = self.cloud.usb_node
        node.write_configuration(self.cloud)
        node.stop_compute()
        self.note('# [usb] device_spec of %s: %s made flavor-only; '
                  'nova-compute stopped' % (self.cloud.usb_host,
                                            crashes.STICK_C))
        self.cloud.restart_compute(self.cloud.usb_host)
        self.note('# nova-compute on %s up again' % self.cloud.usb_host)
        self.assert_agree(server, [])
        events = self.revoke_events('member-a', server)
        assert len(events) == 1, events
        listed = self.stick(crashes.STICK_C)
        assert listed['Use'] == 'flavor' and listed['Server ID'] is None, (
            listed)
