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

"""Quotas on USB devices: Nova's unified limits, for API attaches and
flavor boots alike, over what placement counts per project.

Keystone cannot run inside Nova's functional harness: limits come from
Nova's own UnifiedLimitsFixture, which stands in for keystone's limits
API behind oslo.limit and openstacksdk (the sandbox and the test cloud
check the same against a real keystone).
"""

from nova.tests import fixtures as nova_fixtures
from nova.tests.functional.api import client

from tests.functional.api import base

KEY_CLASS = 'CUSTOM_USB_1050_0407'


class QuotasTestCase(base.UsbApiTestBase):

    def setUp(self):
        super().setUp()
        self.flags(driver='nova.quota.UnifiedLimitsDriver', group='quota')
        self.limits = self.useFixture(nova_fixtures.UnifiedLimitsFixture())
        for resource, limit in (('servers', 10), ('class:VCPU', 20),
                                ('class:MEMORY_MB', 32768),
                                ('class:DISK_GB', 100)):
            self.limits.create_registered_limit(resource_name=resource,
                                                default_limit=limit)
        # Every project may hold 2 YubiKeys; this one, 1.
        self.limits.create_registered_limit(
            resource_name='class:' + KEY_CLASS, default_limit=2)
        self.limits.create_limit(
            project_id=self.api.project_id,
            resource_name='class:' + KEY_CLASS, resource_limit=1)
        self.first = self._create_server(networks='none')
        self.second = self._create_server(networks='none')

    def usages(self):
        return self.placement.get(
            '/usages?project_id=%s' % self.api.project_id,
            version='1.9').body['usages']

    def test_an_attach_over_the_limit_is_refused_and_changes_nothing(self):
        self.assertStatus(200, self.attach(self.first, self.key1))
        # Placement counts the stick the API gave the project.
        self.assertEqual(1, self.usages()[KEY_CLASS])
        refused = self.assertStatus(
            403, self.attach(self.second, self.key2),
            'Quota exceeded for class:%s' % KEY_CLASS)
        self.assertIn('over its limit of 1', refused.message)
        self.assertEqual([], self.server_devices(
            self.second).body['usb_devices'])
        self.assertEqual(1, self.usages()[KEY_CLASS])
        self.assertEqual([], self.actions(self.second)[1:])
        # Once the first is given back, the second may have one.
        self.assertStatus(202, self.detach(self.first, self.key1))
        self.assertNotIn(KEY_CLASS, {
            rc for rc, used in self.usages().items() if used})
        self.assertStatus(200, self.attach(self.second, self.key2))

    def test_over_the_limit_a_device_not_granted_is_still_unknown(self):
        self.flags(device_spec=[
            '{"serial": "YK0001", "projects": "*"}',
            '{"vendor_id": "1050"}'], group='usb')
        self.restart_compute_service('compute1')
        self.assertStatus(200, self.attach(self.first, self.key1))
        # YK0002 is granted to no one: the member learns nothing of it,
        # not even that it would be over the limit.
        self.assertStatus(404, self.attach(self.second, self.key2),
                          "is not on the server's host")

    def test_another_project_has_its_own_limit(self):
        self.assertStatus(200, self.attach(self.first, self.key1))
        stranger = self.clients['stranger']
        theirs = stranger.post_server({'server': {
            'name': 'theirs', 'imageRef': self.first['image']['id'],
            'flavorRef': '1', 'networks': 'none'}})
        theirs = self._wait_for_state_change(theirs, 'ACTIVE')
        self.assertStatus(200, self.attach(theirs, self.key2, 'stranger'))

    def test_a_flavor_boot_over_the_limit_is_refused_by_nova(self):
        self.assertStatus(200, self.attach(self.first, self.key1))
        flavor = self._create_flavor(
            extra_spec={'resources:%s' % KEY_CLASS: '1'})
        error = self.assertRaises(
            client.OpenStackApiException, self._create_server,
            flavor_id=flavor, networks='none')
        self.assertEqual(403, error.response.status_code)
        self.assertIn('class:%s' % KEY_CLASS, error.response.text)
