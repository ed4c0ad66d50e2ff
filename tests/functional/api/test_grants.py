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

"""Devices belong to projects: device_spec's ``projects`` and ``use``,
grants stored through the API, as every role.

compute1's [usb] device_spec here grants YubiKey YK0001 to the owning
project, leaves YK0002 granted to no one (admins only until an admin
grants it), and makes the licence dongles flavor-only. The grants live in
nova-usb's own database: SQLite, its schema made by its migrations.
"""

from nova_usb.virt import devspec
from nova_usb.virt import guest as usb_guest
from tests.functional.api import base


class GrantsTestCase(base.UsbApiTestBase):

    def setUp(self):
        super().setUp()
        self.use_project_rules(licence_use='flavor')
        self.server = self._create_server(networks='none')
        self.hub = self.device_id('1-1')

    def available(self, role, server=None):
        return sorted(d['id'] for d in self.server_devices(
            server or self.server, role, '?available=true').body[
                'usb_devices'])

    def grants(self, device_id, role='admin'):
        return self.request(role, 'GET', '/os-usb-devices/%s/grants' %
                            device_id)

    def grant(self, device_id, project_id, role='admin'):
        return self.request(role, 'PUT', '/os-usb-devices/%s/grants/%s' % (
            device_id, project_id))

    def revoke(self, device_id, project_id, role='admin'):
        return self.request(role, 'DELETE', '/os-usb-devices/%s/grants/%s'
                            % (device_id, project_id))

    def server_devices_by_id(self, server):
        return {d['id']: d['status'] for d in self.server_devices(
            server, 'admin').body['usb_devices']}

    def test_members_see_and_attach_only_what_is_granted(self):
        self.assertEqual([self.key1], self.available('member'))
        self.assertEqual([self.key1], self.available('reader'))
        # Admins may use any device the API may hand out: not the
        # flavor-only dongles.
        self.assertEqual(sorted([self.key1, self.key2]),
                         self.available('admin'))
        unknown = self.attach(self.server,
                              '00000000-0000-5000-8000-000000000000')
        for device_id in [self.key2] + self.dongles:
            refused = self.assertStatus(404, self.attach(self.server,
                                                         device_id))
            # As unknown as an id no host has: nothing tells them apart.
            self.assertEqual(unknown.message.replace(
                '00000000-0000-5000-8000-000000000000', device_id),
                refused.message)
        self.assertEqual({}, self.server_devices_by_id(self.server))
        # Refused by the compute host, as a device it does not have.
        self.assertEqual([('usb_attach', [('compute_usb_attach', 'Error')])]
                         * 6, self.actions(self.server)[1:])
        self.assertStatus(200, self.attach(self.server, self.key1))
        self.assertEqual({self.key1: 'attached'},
                         self.server_devices_by_id(self.server))
        self.assertStatus(202, self.detach(self.server, self.key1))
        # An admin gives the server a device granted to no project; the
        # member may detach it.
        self.assertStatus(200, self.attach(self.server, self.key2, 'admin'))
        self.assertEqual({self.key2: 'attached'},
                         self.server_devices_by_id(self.server))
        self.assertStatus(202, self.detach(self.server, self.key2))

    def test_flavor_only_devices_are_never_attached_through_the_api(self):
        refused = self.assertStatus(
            409, self.attach(self.server, self.dongle, 'admin'),
            devspec.REASON_FLAVOR_ONLY)
        self.assertNotIn(self.dongle, self.available('admin'))
        self.assertStatus(409, self.grant(self.dongle, self.api.project_id),
                          'for flavors only')
        self.assertEqual({}, self.server_devices_by_id(self.server))
        self.assertIsNone(self.host_device(self.dongle)['server_id'], refused)

    def test_a_grant_takes_effect_at_once_and_its_removal_too(self):
        project = self.api.project_id
        self.assertEqual([{'project_id': project, 'source': 'device_spec'}],
                         self.grants(self.key1).body['usb_device_grants'])
        self.assertEqual([], self.grants(self.key2).body['usb_device_grants'])
        granted = self.assertStatus(200, self.grant(self.key2, project))
        self.assertEqual({'project_id': project, 'source': 'grant'},
                         granted.body['usb_device_grant'])
        # Again: the grant is there already, nothing changes.
        self.assertStatus(200, self.grant(self.key2, project))
        self.assertEqual([{'project_id': project, 'source': 'grant'}],
                         self.grants(self.key2).body['usb_device_grants'])
        self.assertEqual(sorted([self.key1, self.key2]),
                         self.available('member'))
        self.assertStatus(200, self.attach(self.server, self.key2))
        self.assertStatus(202, self.detach(self.server, self.key2))
        self.assertStatus(204, self.revoke(self.key2, project))
        self.assertEqual([self.key1], self.available('member'))
        self.assertStatus(404, self.attach(self.server, self.key2))
        self.assertStatus(404, self.revoke(self.key2, project),
                          'has no grant')

    def test_removing_a_grant_takes_the_device_back(self):
        project = self.api.project_id
        self.assertStatus(200, self.grant(self.key2, project))
        self.assertStatus(200, self.attach(self.server, self.key2))
        self.assertIn(usb_guest.device_alias(self.key2),
                      self.live_xml(self.server))
        self.assertStatus(204, self.revoke(self.key2, project))
        self.assertEqual({}, self.server_devices_by_id(self.server))
        self.assertNotIn(usb_guest.device_alias(self.key2),
                         self.live_xml(self.server))
        self.assertEqual((), self.requests(self.server).devices)
        self.assertIsNone(self.host_device(self.key2)['server_id'])
        # The owner reads why in the server's events.
        self.assertEqual(('usb_revoke', [('compute_usb_revoke', 'Success')]),
                         self.actions(self.server, 'member')[-1])
        self.assertIn(('instance.usb_revoke.end', 'INFO'), [
            (event, priority)
            for event, priority, _ in self.usb_notifications()])

    def test_a_grant_that_is_not_what_gave_the_device_leaves_it(self):
        project = self.api.project_id
        # YK0001 is granted by device_spec too: the stored grant's
        # removal does not take it back.
        self.assertStatus(200, self.grant(self.key1, project))
        self.assertStatus(200, self.attach(self.server, self.key1))
        self.assertStatus(204, self.revoke(self.key1, project))
        self.assertEqual({self.key1: 'attached'},
                         self.server_devices_by_id(self.server))

    def test_a_grant_to_one_project_is_not_for_another(self):
        stranger = self.clients['stranger']
        theirs = stranger.post_server({'server': {
            'name': 'theirs', 'imageRef': self.server['image']['id'],
            'flavorRef': self.server['flavor'].get('id', '1'),
            'networks': 'none'}})
        theirs = self._wait_for_state_change(theirs, 'ACTIVE')
        self.assertEqual([], self.available('stranger', theirs))
        self.assertStatus(404, self.attach(theirs, self.key1, 'stranger'))
        self.assertStatus(200, self.grant(self.key2, base.OTHER_PROJECT))
        self.assertEqual([self.key2], self.available('stranger', theirs))
        self.assertEqual([self.key1], self.available('member'))

    def test_only_admins_manage_grants(self):
        for role in ('member', 'reader', 'stranger'):
            self.assertStatus(403, self.grants(self.key1, role))
            self.assertStatus(403, self.grant(self.key2, base.OTHER_PROJECT,
                                              role))
            self.assertStatus(403, self.revoke(self.key1,
                                               self.api.project_id, role))
        self.assertEqual([], self.grants(self.key2).body['usb_device_grants'])

    def test_bad_grants_are_refused_and_change_nothing(self):
        project = self.api.project_id
        self.assertStatus(409, self.grant(self.hub, project), 'is a hub')
        keyboard = self.device_id('1-3')
        self.assertStatus(409, self.grant(keyboard, project),
                          'not matched by [usb] device_spec')
        self.assertStatus(404, self.grant(
            '00000000-0000-5000-8000-000000000000', project))
        self.assertStatus(404, self.grant('not-a-device', project))
        self.assertStatus(400, self.request(
            'admin', 'PUT', '/os-usb-devices/%s/grants/%s' % (
                self.key2, 'a%20b')))
        for device_id in (self.hub, keyboard, self.key2):
            self.assertEqual([], self.grants(device_id).body[
                'usb_device_grants'])
        self.assertEqual([self.key1], self.available('member'))
