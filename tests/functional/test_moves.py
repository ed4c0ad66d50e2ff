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

"""Operations that move a server, or take it away for a while, and come
back: each keeps its devices or releases them explicitly.
"""

from unittest import mock

from nova.cmd import manage as nova_manage
from nova.virt.libvirt import driver as libvirt_driver

from nova_usb.virt import guest as usb_guest
from tests.functional import test_attach_detach as helpers


def _power_off_only(driver, context, instance, *args, **kwargs):
    """As in Nova's own functional tests, no disk is copied here; the
    guest stops as it would.
    """
    libvirt_driver.LibvirtDriver.power_off(driver, instance)
    return '{}'


_NO_DISK_COPY = mock.patch.object(
    libvirt_driver.LibvirtDriver, 'migrate_disk_and_power_off',
    _power_off_only)


class MovesTestCase(helpers.UsbTestBase):

    def setUp(self):
        super().setUp()
        self.server = self._create_server(networks='none', host='compute1')
        self.attach(self.server, self.key1)

    def allocated(self, server):
        """Resource providers of the server's allocation in placement."""
        return set(self.placement.get(
            '/allocations/%s' % server['id'], version='1.28').body[
            'allocations'])

    def consumers(self, device_id):
        return set(self.placement.get(
            '/resource_providers/%s/allocations' % device_id,
            version='1.28').body['allocations'])

    def assertHeld(self, server, host='compute1'):
        """The server has the key: requested, claimed by it on compute1,
        live and persistent in its domain there, and counted in its
        allocation in placement (nothing else's).
        """
        self.assertIn(self.key1, self.allocated(server))
        self.assertEqual({server['id']}, self.consumers(self.key1))
        self.assertEqual('compute1', server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual({self.key1: 'attached'}, self.server_devices(server))
        self.assertEqual(server['id'],
                         self.host_device(self.key1)['server_id'])
        for xml in (self.live_xml(server), self.config_xml(server)):
            self.assertEqual([self.key1],
                             list(usb_guest.hostdevs_in(xml)[0]))

    def resize_on_the_same_host(self):
        """The server resized to another flavor on its own host; returns
        it in VERIFY_RESIZE.
        """
        self.flags(allow_resize_to_same_host=True)
        flavor = next(f['id'] for f in self.api.get_flavors()
                      if f['name'] != self.server['flavor']['original_name']
                      and f['ram'] >= 512 and f['disk'] >= 1)
        with _NO_DISK_COPY:
            self._resize_server(self.server, flavor)
        return self._wait_for_state_change(self.server, 'VERIFY_RESIZE')

    def test_resize_on_the_same_host_then_revert(self):
        server = self.resize_on_the_same_host()
        # Nova gave the old allocation to the migration; the device came
        # back to the server's new one.
        self.assertHeld(server)
        server = self._revert_resize(server)
        self.assertHeld(server)

    def test_resize_on_the_same_host_then_confirm(self):
        server = self.resize_on_the_same_host()
        self._confirm_resize(server)
        server = self._wait_for_state_change(server, 'ACTIVE')
        # The migration's allocation is gone; the device is still counted.
        self.assertHeld(server)

    def test_heal_allocations_force_then_restart(self):
        """nova-manage placement heal_allocations --force rebuilds the
        allocation from the flavor; nova-compute's next start puts the
        device back.
        """
        self.assertHeld(self.server)
        result = nova_manage.PlacementCommands().heal_allocations(
            instance_uuid=self.server['id'], force=True)
        self.assertIn(result, (0, 4))
        self.assertNotIn(self.key1, self.allocated(self.server))
        self.restart_compute_service('compute1')
        self.assertHeld(self.server)

    def test_cold_migration_reverted_comes_back_with_the_device(self):
        self.start_compute('compute2')
        with _NO_DISK_COPY:
            self._migrate_server(self.server, host='compute2')
        server = self._wait_for_state_change(self.server, 'VERIFY_RESIZE')
        self.assertEqual('compute2', server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual({self.key1: 'missing'}, self.server_devices(server))
        # Until the move is confirmed, compute1 keeps the device for it.
        self.assertEqual(server['id'],
                         self.host_device(self.key1)['server_id'])
        # The device is in the migration's allocation on compute1 meanwhile.
        self.assertEqual(1, len(self.consumers(self.key1)))
        self.assertNotIn(self.key1, self.allocated(server))
        with _NO_DISK_COPY:
            server = self._revert_resize(server)
        self.assertHeld(server)

    def test_soft_delete_keeps_the_device_until_restore(self):
        self.flags(reclaim_instance_interval=3600)
        self.api.delete_server(self.server['id'])
        server = self._wait_for_state_change(self.server, 'SOFT_DELETED')
        # The server can come back: its device is kept for it.
        self.assertEqual(server['id'],
                         self.host_device(self.key1)['server_id'])
        self.api.post_server_action(server['id'], {'restore': {}})
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertHeld(server)
        # Deleted for good: released.
        self.api.delete_server(server['id'])
        server = self._wait_for_state_change(server, 'SOFT_DELETED')
        self.api.post_server_action(server['id'], {'forceDelete': None})
        self._wait_until_deleted(server)
        self.assertIsNone(self.host_device(self.key1)['server_id'])

    def test_shelve_then_unshelve_onto_another_host(self):
        self.start_compute('compute2')
        self.flags(shelved_offload_time=0)
        server = self._shelve_server(self.server)
        # Offloaded: compute1 released it explicitly, Nova deleted the
        # allocation; the request stays.
        self.assertIsNone(self.host_device(self.key1)['server_id'])
        self.assertEqual(set(), self.consumers(self.key1))
        self.assertEqual([self.key1],
                         [r.id for r in self.requests(server).devices])
        self.api.post_server_action(
            server['id'], {'unshelve': {'host': 'compute2'}})
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('compute2', server['OS-EXT-SRV-ATTR:host'])
        # compute2 has no such device: missing there, nothing of compute1
        # in the domain.
        self.assertEqual({self.key1: 'missing'}, self.server_devices(server))
        self.assertEqual({}, usb_guest.hostdevs_in(
            self.live_xml(server, host='compute2'))[0])
        self.assertIsNone(self.host_device(self.key1)['server_id'])
        self.assertEqual(set(), self.consumers(self.key1))

    def test_shelve_then_unshelve_onto_its_host_counts_it_again(self):
        self.flags(shelved_offload_time=0)
        server = self._shelve_server(self.server)
        self.assertEqual(set(), self.consumers(self.key1))
        self.api.post_server_action(server['id'], {'unshelve': None})
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertHeld(server)
