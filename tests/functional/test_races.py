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

"""A USB change and a Nova operation on the same server, at the same time.

The libvirt call of the change is held open until the Nova operation has
been accepted by nova-api, so the window is real. Then:

* nothing of the Nova operation ran on the compute host while the change
  was in progress (its driver entry points waited);
* the outcome is one of the two orders: an operation that sets a task
  state wins and the change is undone (409), a lock leaves the change
  made;
* every system metadata key Nova wrote survives, and the domain, the
  stored requests and the claims agree afterwards.
"""

import contextlib
import threading
import time
from unittest import mock

import fixtures
from nova.virt.libvirt import driver as libvirt_driver

from nova_usb.db import requests as usb_requests
from nova_usb import exception
from nova_usb.virt import guest as usb_guest
from nova_usb.virt import locks
from nova_usb_sandbox import fakelibvirt_usb
from tests.fixtures import polling
from tests.functional import test_attach_detach as helpers

# Nova driver entry points whose start during a USB change would be an
# interleaving.
_WATCHED = ('spawn', 'destroy', 'reboot', 'power_off', 'power_on',
            'migrate_disk_and_power_off', 'finish_migration')


def _operations(test):
    """name -> (post the operation, wait for its end, the change loses,
    system metadata keys the operation must leave behind).
    """
    server_id = test.server['id']

    def action(body):
        return lambda: test.api.post_server_action(server_id, body)

    def status(name):
        return lambda: test._wait_for_state_change(test.server, name)

    return {
        'hard reboot': (action({'reboot': {'type': 'HARD'}}),
                        status('ACTIVE'), True, ()),
        'stop': (action({'os-stop': None}), status('SHUTOFF'), True, ()),
        'shelve': (action({'shelve': None}), status('SHELVED_OFFLOADED'),
                   True, ('shelved_at', 'shelved_host', 'shelved_image_id')),
        'resize': (action({'resize': {'flavorRef': test.other_flavor}}),
                   status('VERIFY_RESIZE'), True, ('old_vm_state',)),
        'rebuild': (action({'rebuild': {'imageRef': test.image}}),
                    status('ACTIVE'), True, ()),
        'delete': (lambda: test.api.delete_server(server_id),
                   lambda: test._wait_until_deleted(test.server), True, ()),
        'lock': (action({'lock': {'locked_reason': 'audit'}}),
                 lambda: None, False, ('locked_reason',)),
    }


class RaceTestCase(helpers.UsbTestBase):

    def setUp(self):
        super().setUp()
        self.flags(allow_resize_to_same_host=True)
        self.flags(shelved_offload_time=0)
        self.server = self._create_server(networks='none')
        self.image = self.glance.auto_disk_config_enabled_image['id']
        self.other_flavor = next(
            f['id'] for f in self.api.get_flavors()
            if f['name'] != self.server['flavor']['original_name'] and
            f['ram'] >= 512 and f['disk'] >= 1)
        self.calls = []
        for name in _WATCHED:
            self._spy(name)

    def _spy(self, name):
        original = getattr(libvirt_driver.LibvirtDriver, name)
        calls = self.calls

        def spy(driver, *args, **kwargs):
            calls.append((time.monotonic(), name))
            if name == 'migrate_disk_and_power_off':
                # As in Nova's own functional tests: no disk is copied;
                # the guest stops as it would.
                libvirt_driver.LibvirtDriver.power_off(driver, args[1])
                return '{}'
            return original(driver, *args, **kwargs)

        patcher = mock.patch.object(libvirt_driver.LibvirtDriver, name, spy)
        patcher.start()
        self.addCleanup(patcher.stop)

    def hold_libvirt(self, method_name):
        """Hold the first USB host device call of ``method_name`` until
        released; returns (entered, release).
        """
        entered, release = threading.Event(), threading.Event()
        original = getattr(fakelibvirt_usb.UsbDomain, method_name)

        def held(domain, xml, flags):
            if xml.lstrip().startswith('<hostdev') and not entered.is_set():
                entered.set()
                release.wait(timeout=60)
            return original(domain, xml, flags)

        patcher = mock.patch.object(fakelibvirt_usb.UsbDomain, method_name,
                                    held)
        patcher.start()
        self.addCleanup(patcher.stop)
        return entered, release

    def nova_keys(self):
        sysmeta = self.instance(self.server).system_metadata
        return {k: v for k, v in sysmeta.items()
                if not k.startswith(usb_requests.DEVICES_KEY)}

    def race(self, change, libvirt_call, operation):
        post, wait, change_loses, left_behind = _operations(self)[operation]
        keys_before = self.nova_keys()
        entered, release = self.hold_libvirt(libvirt_call)
        outcome = {}
        server_turn = locks.server_turn

        @contextlib.contextmanager
        def timed_turn(*args, **kwargs):
            try:
                with server_turn(*args, **kwargs):
                    yield
            finally:
                outcome['end'] = time.monotonic()

        self.useFixture(fixtures.MockPatchObject(locks, 'server_turn',
                                                 timed_turn))

        def run():
            try:
                change()
                outcome['change'] = 'made'
            except Exception as e:
                outcome['change'] = e

        thread = threading.Thread(target=run)
        thread.start()
        self.assertTrue(entered.wait(timeout=30))
        started = time.monotonic()
        # Nova's harness turns casts into calls: the operation's request
        # returns once its compute side has run, so it is sent from a
        # thread of its own, and libvirt is let go once nova-api has
        # accepted it (its task state, or the lock, is stored).
        posted = threading.Thread(target=post)
        posted.start()
        polling.wait_for(self.operation_accepted, 'nova-api to accept the '
                         '%s' % operation, timeout=30)
        release.set()
        thread.join(timeout=120)
        posted.join(timeout=120)
        self.assertFalse(thread.is_alive() or posted.is_alive())
        wait()
        # Nothing of Nova's operation ran on the compute host while the
        # change held the server.
        self.assertEqual([], [name for at, name in self.calls
                              if started <= at < outcome['end']])
        if change_loses:
            self.assertIsInstance(outcome['change'],
                                  exception.UsbChangeInterrupted)
        else:
            self.assertEqual('made', outcome['change'])
        if operation == 'delete':
            return outcome['change']
        keys_after = self.nova_keys()
        # Nova's keys: none lost, and those the operation writes are there.
        self.assertEqual(set(), set(keys_before) - set(keys_after) -
                         {'old_vm_state'})
        for key in left_behind:
            self.assertIn(key, keys_after)
        return outcome['change']

    def operation_accepted(self):
        instance = self.instance(self.server)
        return instance.task_state is not None or instance.locked

    def held_by(self, device_id):
        return self.host_device(device_id)['server_id']

    def domain_devices(self):
        """nova-usb's host devices in the live and persistent domain."""
        instance = self.instance(self.server)
        if instance.host is None:
            return None
        guest = self.guest(self.server)
        live = guest.get_xml_desc() if instance.vm_state in (
            'active', 'paused') else '<domain/>'
        return (sorted(usb_guest.hostdevs_in(live)[0]),
                sorted(usb_guest.hostdevs_in(
                    guest.get_xml_desc(dump_inactive=True))[0]))

    def assertAgree(self, device_id, wanted):
        """Domain, stored requests and claims agree: the server has the
        device or not, everywhere.
        """
        requests = [r.id for r in self.requests(self.server).devices]
        self.assertEqual([device_id] if wanted else [], requests)
        instance = self.instance(self.server)
        on_host = instance.host is not None
        self.assertEqual(self.server['id'] if wanted and on_host else None,
                         self.held_by(device_id))
        devices = self.domain_devices()
        if devices is None:
            return
        if instance.vm_state in ('active', 'paused'):
            self.assertEqual([device_id] if wanted else [], devices[0])
        if wanted or instance.vm_state in ('active', 'paused'):
            self.assertEqual([device_id] if wanted else [], devices[1])

    # Attach against each operation

    def attach_race(self, operation):
        return self.race(lambda: self.attach(self.server, self.key1),
                         'attachDeviceFlags', operation)

    def test_attach_against_hard_reboot(self):
        self.attach_race('hard reboot')
        self.assertAgree(self.key1, wanted=False)

    def test_attach_against_stop(self):
        self.attach_race('stop')
        self.assertAgree(self.key1, wanted=False)

    def test_attach_against_shelve(self):
        self.attach_race('shelve')
        self.assertAgree(self.key1, wanted=False)
        # Unshelve finds its image: shelve's keys were kept.
        self._unshelve_server(self.server)
        self.assertAgree(self.key1, wanted=False)

    def test_attach_against_resize(self):
        self.attach_race('resize')
        self.assertAgree(self.key1, wanted=False)

    def test_attach_against_rebuild(self):
        self.attach_race('rebuild')
        self.assertAgree(self.key1, wanted=False)

    def test_attach_against_delete(self):
        self.attach_race('delete')
        self.assertIsNone(self.held_by(self.key1))

    def test_attach_against_lock(self):
        self.attach_race('lock')
        self.assertAgree(self.key1, wanted=True)

    # Detach against each operation

    def detach_race(self, operation):
        self.attach(self.server, self.key1)
        return self.race(lambda: self.detach(self.server, self.key1),
                         'detachDeviceFlags', operation)

    def test_detach_against_hard_reboot(self):
        self.detach_race('hard reboot')
        self.assertAgree(self.key1, wanted=True)

    def test_detach_against_stop(self):
        self.detach_race('stop')
        self.assertAgree(self.key1, wanted=True)

    def test_detach_against_shelve(self):
        self.detach_race('shelve')
        # Offloaded: the server keeps its request, the host lets go.
        self.assertAgree(self.key1, wanted=True)
        self.assertIsNone(self.held_by(self.key1))
        server = self._unshelve_server(self.server)
        self.assertEqual('compute1', server['OS-EXT-SRV-ATTR:host'])
        self.assertAgree(self.key1, wanted=True)

    def test_detach_against_resize(self):
        self.detach_race('resize')
        self.assertAgree(self.key1, wanted=True)

    def test_detach_against_rebuild(self):
        self.detach_race('rebuild')
        self.assertAgree(self.key1, wanted=True)

    def test_detach_against_delete(self):
        self.detach_race('delete')
        self.assertIsNone(self.held_by(self.key1))

    def test_detach_against_lock(self):
        self.detach_race('lock')
        self.assertAgree(self.key1, wanted=False)
