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

"""Servers booted with USB devices their flavor asks for: the devices in
placement, the scheduler's choice, and the two ways of taking a device
(flavor and API) never taking one device twice.

Two compute hosts see the recorded devices of tests.functional.base, each
through its own [usb] device_spec, as two hosts with different devices:

* compute1: both YubiKeys (CUSTOM_USB_1050_0407);
* compute2: the YubiKey YK0001 (its own device there: ids name the host)
  and the four licence dongles, reported with the resource class and trait
  its device_spec rule sets.
"""

from unittest import mock
import uuid

from nova.virt.libvirt import driver as libvirt_driver

from nova_usb.db import requests as usb_requests
from nova_usb import exception
from nova_usb.virt import guest as usb_guest
from nova_usb.virt import placement
from tests.functional import base
from tests.functional import test_attach_detach as helpers

KEY_RC = 'CUSTOM_USB_1050_0407'
DONGLE_RC = 'CUSTOM_LICENCE_DONGLE'
DONGLE_TRAIT = 'CUSTOM_SENTINEL_HL'
SPECS = {
    'compute1': ['{"vendor_id": "1050", "projects": "*"}'],
    'compute2': ['{"serial": "YK0001", "projects": "*"}',
                 '{"vendor_id": "0529", "resource_class": "licence_dongle",'
                 ' "traits": "sentinel_hl", "projects": "*"}'],
}


def _power_off_only(driver, context, instance, *args, **kwargs):
    """No disk is copied in these tests; the guest stops as it would."""
    libvirt_driver.LibvirtDriver.power_off(driver, instance)
    return '{}'


class SchedulingTestCase(helpers.Hotplug, base.UsbServersTestBase):

    def setUp(self):
        super().setUp()
        for host in SPECS:
            self.start_usb_compute(host)
        self.c1_keys = {self.device_id('1-1.1'), self.device_id('1-1.2')}
        self.c2_key = self.device_id('1-1.1', host='compute2')
        self.c2_dongles = {self.device_id(p, host='compute2')
                           for p in ('1-2', '1-4', '1-5', '1-6')}
        self.key_flavor = self.flavor({'resources:%s' % KEY_RC: '1'})
        self.plain_flavor = self.flavor({})

    def start_usb_compute(self, host):
        """Each host reads its own device_spec when nova-compute starts."""
        self.flags(device_spec=SPECS[host], group='usb')
        self.start_compute(host)

    def restart_usb_compute(self, host):
        self.flags(device_spec=SPECS[host], group='usb')
        self.restart_compute_service(host)

    def flavor(self, extra_spec):
        return self._create_flavor(memory_mb=512, vcpu=1, disk=1,
                                   ephemeral=0, extra_spec=extra_spec)

    def boot(self, flavor, expected_state='ACTIVE', host=None):
        return self._create_server(flavor_id=flavor, networks='none',
                                   host=host, expected_state=expected_state)

    # What placement and the hosts say

    def providers(self, host):
        """device id -> (resource class, reserved, used, traits, parent
        name) of every USB device provider of ``host``.
        """
        found = {}
        all_rps = self.placement.get('/resource_providers',
                                     version='1.14').body[
            'resource_providers']
        names = {rp['uuid']: rp['name'] for rp in all_rps}
        for rp in all_rps:
            if not rp['name'].startswith(host + '_usb_'):
                continue
            self.assertEqual(host + '_usb_' + rp['uuid'], rp['name'])
            url = '/resource_providers/%s' % rp['uuid']
            inventories = self.placement.get(
                url + '/inventories', version='1.26').body['inventories']
            usages = self.placement.get(url + '/usages',
                                        version='1.26').body['usages']
            traits = self.placement.get(url + '/traits',
                                        version='1.26').body['traits']
            (rc, record), = inventories.items()
            self.assertEqual((1, 1, 1), (record['total'], record['min_unit'],
                                         record['max_unit']))
            found[rp['uuid']] = (rc, record['reserved'], usages[rc],
                                 frozenset(traits),
                                 names[rp['parent_provider_uuid']])
        return found

    def allocated_devices(self, server):
        """Device providers placement allocated to the server."""
        allocations = self.placement.get(
            '/allocations/%s' % server['id'], version='1.26').body[
            'allocations']
        return {rp for rp in allocations
                if rp in self.c1_keys | {self.c2_key} | self.c2_dongles}

    def held(self, server):
        """Devices the server's stored requests give it, as placement
        allocated them ("allocated") or through the API.
        """
        return {r.id: bool(r.allocated)
                for r in self.requests(server).devices}

    def claims(self, host):
        return self.computes[host].driver.usb.claims.snapshot()

    def in_domain(self, server):
        host = self.instance(server).host
        return set(usb_guest.hostdevs_in(self.live_xml(server, host))[0])

    def assertHasAllocatedDevice(self, server, candidates):
        """The server holds exactly one of ``candidates``: allocated in
        placement, requested, claimed on its host, in its domain, and
        listed as attached. Returns that device.
        """
        server = self.api.get_server(server['id'])
        host = server['OS-EXT-SRV-ATTR:host']
        device, = self.allocated_devices(server)
        self.assertIn(device, candidates)
        self.assertEqual({device: True}, self.held(server))
        self.assertEqual(server['id'], self.claims(host)[device])
        self.assertEqual({device}, self.in_domain(server))
        self.assertEqual({device: 'attached'}, self.server_devices(server))
        return device

    def assertNoValidHost(self, server):
        self.assertEqual('ERROR', server['status'])
        self.assertIn('No valid host', server['fault']['message'])

    # Devices in placement

    def test_each_assignable_device_is_a_child_provider(self):
        c1 = self.providers('compute1')
        self.assertEqual(
            {d: (KEY_RC, 0, 0, frozenset(), 'compute1')
             for d in self.c1_keys}, c1)
        c2 = self.providers('compute2')
        expected = {d: (DONGLE_RC, 0, 0, frozenset([DONGLE_TRAIT]),
                        'compute2') for d in self.c2_dongles}
        expected[self.c2_key] = (KEY_RC, 0, 0, frozenset(), 'compute2')
        self.assertEqual(expected, c2)

    def test_plug_and_unplug_reach_placement_at_the_next_report(self):
        server = self.boot(self.key_flavor, host='compute1')
        held = self.assertHasAllocatedDevice(server, self.c1_keys)
        port_of = {self.device_id(p): p for p in ('1-1.1', '1-1.2')}
        free, = self.c1_keys - {held}
        unplugged = [self.unplug(port_of[free]), self.unplug(port_of[held])]
        self._run_periodics()
        # The held device keeps its provider: its allocation needs it.
        self.assertEqual({held: (KEY_RC, 0, 1)},
                         {d: p[:3] for d, p in
                          self.providers('compute1').items()})
        for key in unplugged:
            self.plug(key)
        self._run_periodics()
        self.assertEqual({held: (KEY_RC, 0, 1), free: (KEY_RC, 0, 0)},
                         {d: p[:3] for d, p in
                          self.providers('compute1').items()})

    # Boots

    def test_boot_lands_on_the_host_with_the_device(self):
        flavor = self.flavor({'resources:%s' % DONGLE_RC: '1',
                              'trait:%s' % DONGLE_TRAIT: 'required'})
        server = self.boot(flavor)
        self.assertEqual('compute2', server['OS-EXT-SRV-ATTR:host'])
        dongle = self.assertHasAllocatedDevice(server, self.c2_dongles)
        self.assertEqual((DONGLE_RC, 0, 1), self.providers(
            'compute2')[dongle][:3])
        # A trait no device has: no host.
        flavor = self.flavor({'resources:%s' % DONGLE_RC: '1',
                              'trait:CUSTOM_NO_SUCH_DONGLE': 'required'})
        self.assertNoValidHost(self.boot(flavor, expected_state='ERROR'))

    def test_the_boot_one_too_many_fails_and_a_delete_frees(self):
        keys = self.c1_keys | {self.c2_key}
        servers = [self.boot(self.key_flavor) for _ in keys]
        held = [self.assertHasAllocatedDevice(s, keys) for s in servers]
        self.assertEqual(keys, set(held))
        for host in SPECS:
            self.assertEqual(
                {d: 1 for d in keys if d in self.providers(host)},
                {d: p[2] for d, p in self.providers(host).items()
                 if p[0] == KEY_RC})
        extra = self.boot(self.key_flavor, expected_state='ERROR')
        self.assertNoValidHost(extra)
        # The failed boot took nothing from anyone.
        for server, device in zip(servers, held):
            self.assertEqual({device}, self.allocated_devices(server))
        self._delete_server(servers[0])
        freed_host = servers[0]['OS-EXT-SRV-ATTR:host']
        self.assertNotIn(held[0], self.claims(freed_host))
        self.assertEqual(0, self.providers(freed_host)[held[0]][2])
        again = self.boot(self.key_flavor)
        self.assertEqual(held[0],
                         self.assertHasAllocatedDevice(again, keys))

    def test_granular_groups_get_two_different_devices(self):
        flavor = self.flavor({'resources1:%s' % KEY_RC: '1',
                              'resources2:%s' % KEY_RC: '1',
                              'group_policy': 'isolate'})
        server = self.boot(flavor)
        # Only compute1 has two keys.
        self.assertEqual('compute1', server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual(self.c1_keys, self.allocated_devices(server))
        self.assertEqual({d: True for d in self.c1_keys}, self.held(server))
        self.assertEqual(self.c1_keys, self.in_domain(server))

    def test_a_failed_spawn_leaves_nothing_behind(self):
        with mock.patch.object(libvirt_driver.LibvirtDriver,
                               '_create_guest_with_network',
                               side_effect=RuntimeError('no QEMU today')):
            server = self.boot(self.key_flavor, host='compute1',
                               expected_state='ERROR')
        self.assertEqual({}, self.claims('compute1'))
        self.assertEqual({}, self.held(server))
        self.assertEqual(set(), self.allocated_devices(server))
        self.assertEqual({d: 0 for d in self.c1_keys},
                         {d: p[2] for d, p in
                          self.providers('compute1').items()})

    def test_devices_the_driver_has_not_reported_yet_are_recognised(self):
        # As right after nova-compute started, before its first report:
        # the allocation names a device of the host all the same.
        with mock.patch.object(placement, 'allocated_device_ids',
                               return_value=[]):
            server = self.boot(self.key_flavor, host='compute1')
        self.assertHasAllocatedDevice(server, self.c1_keys)

    def test_rebuild_and_hard_reboot_keep_the_device(self):
        server = self.boot(self.key_flavor, host='compute1')
        key = self.assertHasAllocatedDevice(server, self.c1_keys)
        self._reboot_server(server, hard=True)
        self.assertEqual(key, self.assertHasAllocatedDevice(server,
                                                            self.c1_keys))
        self._rebuild_server(
            server, self.glance.auto_disk_config_enabled_image['id'])
        self.assertEqual(key, self.assertHasAllocatedDevice(server,
                                                            self.c1_keys))

    # The API and the flavor, never on one device

    def test_api_attach_of_the_last_free_device_makes_the_next_boot_fail(
            self):
        booted = self.boot(self.key_flavor, host='compute1')
        by_flavor = self.assertHasAllocatedDevice(booted, self.c1_keys)
        last, = self.c1_keys - {by_flavor}
        plain = self.boot(self.plain_flavor, host='compute1')
        self.attach(plain, last)
        # Used by the server's allocation, as a flavor device would be.
        self.assertEqual((KEY_RC, 0, 1), self.providers('compute1')[last][:3])
        self.assertEqual({last}, self.allocated_devices(plain))
        # compute2's key is still free: take it too.
        plain2 = self.boot(self.plain_flavor, host='compute2')
        self.attach(plain2, self.c2_key)
        self.assertNoValidHost(self.boot(self.key_flavor,
                                         expected_state='ERROR'))
        self.assertEqual({last: False}, self.held(plain))
        self.detach(plain, last)
        self.assertEqual((KEY_RC, 0, 0), self.providers('compute1')[last][:3])
        self.assertEqual(set(), self.allocated_devices(plain))
        server = self.boot(self.key_flavor)
        self.assertEqual(last,
                         self.assertHasAllocatedDevice(server, self.c1_keys))

    def test_api_attach_cannot_take_a_device_placement_allocated(self):
        booted = self.boot(self.key_flavor, host='compute1')
        by_flavor = self.assertHasAllocatedDevice(booted, self.c1_keys)
        other, = self.c1_keys - {by_flavor}
        plain = self.boot(self.plain_flavor, host='compute1')
        e = self.assertRaises(exception.UsbDeviceInUse, self.attach, plain,
                              by_flavor)
        self.assertIn(booted['id'], e.format_message())
        # A server being scheduled holds the other key in placement only
        # (the compute host has not spawned it yet).
        scheduled = str(uuid.uuid4())
        compute1_rp = self._get_provider_uuid_by_host('compute1')
        self.placement.put('/allocations/%s' % scheduled, {
            'allocations': {other: {'resources': {KEY_RC: 1}},
                            compute1_rp: {'resources': {'VCPU': 1}}},
            'project_id': str(uuid.uuid4()), 'user_id': str(uuid.uuid4()),
            'consumer_generation': None}, version='1.28')
        e = self.assertRaises(exception.UsbDeviceInUse, self.attach, plain,
                              other)
        self.assertIn(scheduled, e.format_message())
        # Nothing changed: not requested, not claimed, not allocated.
        self.assertEqual({}, self.held(plain))
        self.assertEqual({by_flavor: booted['id']}, self.claims('compute1'))
        self.assertEqual((KEY_RC, 0, 1),
                         self.providers('compute1')[other][:3])
        self.assertEqual(set(), self.allocated_devices(plain))

    def test_a_device_the_flavor_gave_cannot_be_detached(self):
        server = self.boot(self.key_flavor, host='compute1')
        device = self.assertHasAllocatedDevice(server, self.c1_keys)
        self.assertRaises(exception.UsbDeviceFromFlavor, self.detach, server,
                          device)
        self.assertEqual(device,
                         self.assertHasAllocatedDevice(server, self.c1_keys))

    # nova-compute restarts

    def test_restart_keeps_inventory_allocations_and_claims(self):
        booted = self.boot(self.key_flavor, host='compute1')
        by_flavor = self.assertHasAllocatedDevice(booted, self.c1_keys)
        by_api, = self.c1_keys - {by_flavor}
        plain = self.boot(self.plain_flavor, host='compute1')
        self.attach(plain, by_api)
        before = self.providers('compute1')
        self.assertEqual((0, 1), before[by_api][1:3])
        self.assertEqual((0, 1), before[by_flavor][1:3])
        # The server's allocation lost the device while nova-compute was
        # down (a crash between the allocation and the save, an
        # operator's heal_allocations --force).
        self.computes['compute1'].driver.usb.providers.free(
            self.ctxt, by_api, plain['id'])
        self.assertEqual(0, self.providers('compute1')[by_api][2])
        self.restart_usb_compute('compute1')
        self.assertEqual(before, self.providers('compute1'))
        self.assertEqual({by_api}, self.allocated_devices(plain))
        self.assertEqual({by_flavor: booted['id'], by_api: plain['id']},
                         self.claims('compute1'))
        self.assertHasAllocatedDevice(booted, self.c1_keys)
        self.assertEqual({by_api: 'attached'}, self.server_devices(plain))
        self.assertNoValidHost(self.boot(self.key_flavor, host='compute1',
                                         expected_state='ERROR'))

    def build_cut_short(self, vm_state):
        """A server booted with a key placement allocated, and the
        database as nova-compute's death in spawn left it, after QEMU
        started and before Nova's save: the requests (set on the instance
        in memory by the driver's spawn) never stored, vm_state BUILDING
        and task_state spawning (or in ERROR since). The domain and the
        allocation are the hypervisor's and placement's, as they were.
        """
        server = self.boot(self.key_flavor, host='compute1')
        key = self.assertHasAllocatedDevice(server, self.c1_keys)
        instance = self.instance(server)
        unsaved = dict(instance.system_metadata)
        usb_requests.store(unsaved, usb_requests.UsbRequests())
        instance.system_metadata = unsaved
        instance.vm_state = vm_state
        instance.task_state = ('spawning' if vm_state == 'building'
                               else None)
        instance.save()
        self.assertEqual({key}, self.in_domain(server))
        return server, key

    def assertTakenOut(self, server):
        """After the restart: the key is in neither the domain nor the
        allocation, nor claimed, and the server is in ERROR.
        """
        self.assertEqual(set(), self.in_domain(server))
        self.assertEqual(set(), set(usb_guest.hostdevs_in(
            self.config_xml(server))[0]))
        self.assertEqual({}, self.held(server))
        self.assertEqual({}, self.claims('compute1'))
        self.assertEqual(set(), self.allocated_devices(server))
        self.assertEqual({d: 0 for d in self.c1_keys},
                         {d: p[2] for d, p in
                          self.providers('compute1').items()})
        self.assertEqual('ERROR', self.api.get_server(server['id'])['status'])

    def test_a_build_cut_short_gives_back_its_allocated_device(self):
        server, key = self.build_cut_short('building')
        self.restart_usb_compute('compute1')
        self.assertTakenOut(server)
        # Nobody holds it: another boot gets it.
        self.assertHasAllocatedDevice(
            self.boot(self.key_flavor, host='compute1'), self.c1_keys)

    def test_a_server_in_error_gives_back_what_it_does_not_request(self):
        server, key = self.build_cut_short('error')
        self.restart_usb_compute('compute1')
        self.assertTakenOut(server)

    # Moves

    def test_cold_migration_takes_a_device_on_the_destination(self):
        server = self.boot(self.key_flavor, host='compute1')
        source_key = self.assertHasAllocatedDevice(server, self.c1_keys)
        with mock.patch.object(libvirt_driver.LibvirtDriver,
                               'migrate_disk_and_power_off',
                               _power_off_only):
            self._migrate_server(server, host='compute2')
        server = self._wait_for_state_change(server, 'VERIFY_RESIZE')
        self.assertEqual('compute2', server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual(self.c2_key,
                         self.assertHasAllocatedDevice(server, {self.c2_key}))
        # Until confirmed, the source keeps its device for a revert.
        self.assertEqual(server['id'], self.claims('compute1')[source_key])
        self._confirm_resize(server)
        self.assertNotIn(source_key, self.claims('compute1'))
        self.assertEqual(0, self.providers('compute1')[source_key][2])
        self.assertEqual(self.c2_key,
                         self.assertHasAllocatedDevice(server, {self.c2_key}))

    def test_cold_migration_reverted_gives_the_source_device_back(self):
        server = self.boot(self.key_flavor, host='compute1')
        source_key = self.assertHasAllocatedDevice(server, self.c1_keys)
        with mock.patch.object(libvirt_driver.LibvirtDriver,
                               'migrate_disk_and_power_off',
                               _power_off_only):
            self._migrate_server(server, host='compute2')
            server = self._wait_for_state_change(server, 'VERIFY_RESIZE')
            server = self._revert_resize(server)
        self.assertEqual('compute1', server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual(source_key,
                         self.assertHasAllocatedDevice(server, self.c1_keys))
        self.assertEqual({}, self.claims('compute2'))
        self.assertEqual(0, self.providers('compute2')[self.c2_key][2])

    def test_shelve_offload_releases_and_unshelve_allocates_again(self):
        self.flags(shelved_offload_time=0)
        server = self.boot(self.key_flavor, host='compute1')
        key = self.assertHasAllocatedDevice(server, self.c1_keys)
        server = self._shelve_server(server)
        self.assertEqual({}, self.claims('compute1'))
        self.assertEqual(set(), self.allocated_devices(server))
        self.api.post_server_action(server['id'],
                                    {'unshelve': {'host': 'compute2'}})
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('compute2', server['OS-EXT-SRV-ATTR:host'])
        # compute2's key replaces compute1's in the requests.
        self.assertEqual(self.c2_key,
                         self.assertHasAllocatedDevice(server, {self.c2_key}))
        self.assertNotIn(key, self.held(server))

    def test_resize_to_a_flavor_without_the_device(self):
        server = self.boot(self.key_flavor, host='compute1')
        key = self.assertHasAllocatedDevice(server, self.c1_keys)
        with mock.patch.object(libvirt_driver.LibvirtDriver,
                               'migrate_disk_and_power_off',
                               _power_off_only):
            self._resize_server(server, self.plain_flavor)
            server = self._wait_for_state_change(server, 'VERIFY_RESIZE')
            self.assertEqual('compute2', server['OS-EXT-SRV-ATTR:host'])
            self.assertEqual({}, self.held(server))
            self.assertEqual(set(), self.in_domain(server))
            # Reverted: the source's device again.
            server = self._revert_resize(server)
            self.assertEqual(key, self.assertHasAllocatedDevice(
                server, self.c1_keys))
            self._resize_server(server, self.plain_flavor)
            server = self._wait_for_state_change(server, 'VERIFY_RESIZE')
        self._confirm_resize(server)
        self.assertEqual({}, self.held(server))
        self.assertEqual({}, self.claims('compute1'))
        self.assertEqual(0, self.providers('compute1')[key][2])
