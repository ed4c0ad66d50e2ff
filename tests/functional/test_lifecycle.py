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

"""USB devices through everything Nova does to a server."""

from unittest import mock

from nova.tests.functional.api import client

from nova_usb.virt import guest as usb_guest
from tests.functional import test_attach_detach as helpers


class LifecycleTestCase(helpers.UsbTestBase):

    def setUp(self):
        super().setUp()
        self.server = self._create_server(networks='none')
        self.attach(self.server, self.key1)
        self.alias = usb_guest.device_alias(self.key1)

    def assertAttached(self, server=None, host='compute1'):
        server = server or self.server
        self.assertIn(self.alias, helpers.hostdevs(
            self.live_xml(server, host)))
        self.assertEqual({self.key1: 'attached'},
                         self.server_devices(server))
        self.assertEqual(server['id'],
                         self.host_device(self.key1)['server_id'])

    def test_soft_reboot(self):
        self._reboot_server(self.server)
        self.assertAttached()

    def test_hard_reboot(self):
        self._reboot_server(self.server, hard=True)
        self.assertAttached()

    def test_stop_start(self):
        server = self._stop_server(self.server)
        self.assertEqual({self.key1: 'attached'},
                         self.server_devices(server))
        self._start_server(server)
        self.assertAttached()

    def test_suspend_resume(self):
        server = self._suspend_server(self.server)
        self._resume_server(server)
        self.assertAttached()

    def test_rebuild(self):
        self._rebuild_server(
            self.server, self.glance.auto_disk_config_enabled_image['id'])
        self.assertAttached()

    def test_delete_releases_the_device(self):
        self._delete_server(self.server)
        self.assertIsNone(self.host_device(self.key1)['server_id'])
        other = self._create_server(networks='none')
        self.attach(other, self.key1)
        self.assertEqual(other['id'],
                         self.host_device(self.key1)['server_id'])

    def test_restart_of_nova_compute_rebuilds_the_claims(self):
        stopped = self._create_server(networks='none')
        stopped = self._stop_server(stopped)
        self.attach(stopped, self.key2)
        self.restart_compute_service('compute1')
        self.assertEqual(self.server['id'],
                         self.host_device(self.key1)['server_id'])
        self.assertEqual(stopped['id'],
                         self.host_device(self.key2)['server_id'])

    def test_restart_brings_the_domain_back_to_the_requests(self):
        guest = self.guest(self.server)
        # Detached behind nova-usb's back (as a crash between the libvirt
        # detach and the save leaves it).
        hostdev = usb_guest.hostdevs_in(guest.get_xml_desc())[0][self.key1]
        guest.detach_device(hostdev, persistent=True, live=True)

        self.restart_compute_service('compute1')

        # The stored requests win: the key is back, live and persistent.
        for xml in (self.live_xml(self.server), self.config_xml(self.server)):
            self.assertEqual([self.key1],
                             list(usb_guest.hostdevs_in(xml)[0]))
        self.assertIn('did not match the stored requests',
                      self.stdlog.logger.output)
        self.assertEqual(self.server['id'],
                         self.host_device(self.key1)['server_id'])

    def test_restart_leaves_host_devices_nova_usb_did_not_attach(self):
        self.detach(self.server, self.key1)
        by_hand = usb_guest.make_hostdev(
            self.computes['compute1'].driver.usb.inventory.get(self.key2))
        by_hand.alias = None
        self.guest(self.server).attach_device(by_hand, persistent=True,
                                              live=True)

        self.restart_compute_service('compute1')

        # Not nova-usb's to remove: it is reported, and Nova drops it when
        # it next writes the domain.
        self.assertEqual(({}, [None]), usb_guest.hostdevs_in(
            self.live_xml(self.server)))
        self.assertIn('The guest has a USB host device that nova-usb did '
                      'not attach', self.stdlog.logger.output)
        self._reboot_server(self.server, hard=True)
        self.assertEqual(({}, []), usb_guest.hostdevs_in(
            self.live_xml(self.server)))

    def test_unreadable_requests_do_not_stop_the_server(self):
        instance = self.instance(self.server)
        sysmeta = dict(instance.system_metadata)
        sysmeta['usb_devices_requests'] = '[{"id": "truncated'
        instance.system_metadata = sysmeta
        instance.save()
        self._reboot_server(self.server, hard=True)
        self.assertEqual({}, helpers.hostdevs(self.live_xml(self.server)))
        self.assertIn('cannot be read', self.stdlog.logger.output)
        self.restart_compute_service('compute1')


class MoveTestCase(helpers.UsbTestBase):
    """A server holding devices and another compute host."""

    def setUp(self):
        super().setUp()
        self.start_compute('compute2')
        self.server = self._create_server(networks='none', host='compute1')
        self.attach(self.server, self.key1)

    def test_live_migration_is_refused(self):
        # 2.33: the last microversion that answers the pre-checks
        # synchronously (later ones run them after answering 202).
        self.api.microversion = '2.33'
        error = self.assertRaises(
            client.OpenStackApiException, self.api.post_server_action,
            self.server['id'], {'os-migrateLive': {
                'host': 'compute2', 'block_migration': 'auto'}})
        # Nova's conductor reports a refused pre-check on the requested host
        # as "No valid host"; nova-usb's reason is in its log.
        self.assertEqual(400, error.response.status_code)
        self.assertIn('holds host USB devices (%s) and cannot be live '
                      'migrated: detach them first' % self.key1,
                      self.stdlog.logger.output)
        server = self._wait_for_state_change(self.server, 'ACTIVE')
        self.assertEqual('compute1', server['OS-EXT-SRV-ATTR:host'])
        self.assertIn(usb_guest.device_alias(self.key1),
                      helpers.hostdevs(self.live_xml(server)))

    def test_cold_migration_leaves_the_device_behind(self):
        # As in Nova's own functional tests: no disk is copied here.
        with mock.patch('nova.virt.libvirt.driver.LibvirtDriver'
                        '.migrate_disk_and_power_off', return_value='{}'):
            self._migrate_server(self.server, host='compute2')
        server = self._wait_for_state_change(self.server, 'VERIFY_RESIZE')
        self._confirm_resize(server)
        self.assertEqual({}, helpers.hostdevs(
            self.live_xml(server, host='compute2')))
        self.assertEqual({self.key1: 'missing'}, self.server_devices(server))
        # compute1 let it go; nothing of compute1 was put on compute2.
        self.assertIsNone(self.host_device(self.key1)['server_id'])
        self.assertIsNone(self.host_device(
            self.device_id('1-1.1', host='compute2'), host='compute2')[
            'server_id'])

    def test_evacuation_leaves_the_device_behind(self):
        self.api.put_service(self.computes['compute1'].service_ref.uuid,
                             {'forced_down': True})
        self.computes['compute1'].stop()
        # Evacuated servers arrive stopped (microversion 2.95 and later).
        server = self._evacuate_server(self.server, expected_host='compute2')
        self.assertEqual({}, helpers.hostdevs(
            self.config_xml(server, host='compute2')))
        self.assertEqual({self.key1: 'missing'}, self.server_devices(server))
        # compute1 comes back, cleans up the evacuated server and lets the
        # device go.
        self.restart_compute_service('compute1')
        self.api.put_service(self.computes['compute1'].service_ref.uuid,
                             {'forced_down': False})
        self.assertIsNone(self.host_device(self.key1)['server_id'])

    def test_shelve_offload_releases_and_unshelve_takes_back(self):
        server = self._shelve_server(self.server)
        self.assertIsNone(self.host_device(self.key1)['server_id'])
        server = self._unshelve_server(server)
        if server['OS-EXT-SRV-ATTR:host'] == 'compute1':
            self.assertEqual(server['id'],
                             self.host_device(self.key1)['server_id'])
            self.assertIn(usb_guest.device_alias(self.key1),
                          helpers.hostdevs(self.live_xml(server)))
        else:
            self.assertEqual({self.key1: 'missing'},
                             self.server_devices(server))
