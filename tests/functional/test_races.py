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

"""A USB change and a Nova operation or write on the same server, at the
same time.

A live attach or detach is held in one of two windows while Nova's request
is sent:

* ``libvirt``: its libvirt call is held open; nova-usb has not yet read
  the server again for its save;
* ``save``: between that read and the save (nova_usb.db.server_requests),
  where a write of someone else is not in the copy nova-usb saves from.

Nova operations that set a task state (RaceTestCase.race: hard reboot,
stop, shelve, resize, rebuild, delete), sent while the libvirt call is
held and let go once nova-api has stored the task state:

* nothing of the operation runs on the compute host meanwhile (its driver
  entry points wait for the change);
* the operation wins: the change's save is refused, the change is undone
  (409), and the domain, the stored requests and the claims agree;
* no system metadata key Nova had is lost, and those the operation writes
  are there.

A snapshot (createImage, RaceTestCase.snapshot_race) sent while the
libvirt call is held does not wait for the change: Nova runs its compute
side without its lock of the server and nova-usb's driver takes no domain
lock for it, so its disk copy starts meanwhile. nova-api stored its task
state first: the change loses and is undone (409), the snapshot ends with
its image active, no system metadata key of Nova changes, and the domain,
the stored requests and the claims agree. No disk is copied here, and the
domain's definition is not taken away and defined again from a copy as
Nova's live snapshot does (fakelibvirt drops a running domain whose
definition goes): a USB change meeting that is not covered.

A live migration to a second host (LiveMigrationRaceTestCase) sent while
the change is held in either window: its source check waits for the
change, which nova-api's migrating task state makes lose (409); nothing of
the migration runs on either host meanwhile. An attach is undone and the
server moves without the device (not in the destination's domain, not
claimed, not requested); a detach is undone and the check then refuses
the migration of a server holding a device: it stays where it is, with
the device.

Nova writes that set no task state (RaceTestCase.write_race, _writers),
made and ended while the change is held; both must be made: the device is
in the domain, the stored requests and the claims (or gone from all
three), the write's effect is there as nova-api shows it, and the system
metadata is what it was with exactly the write's change and nova-usb's
keys, nothing else:

* a lock with a reason, an unlock and the server password cleared
  (DELETE .../os-server-password), which rewrite the system metadata, in
  the libvirt window;
* the metadata replaced (PUT) and added to (POST), a tag added (PUT
  .../tags/{tag}), in the save window (they write tables of their own);
* a port attached (POST .../os-interface) in both windows: Nova's compute
  side of it waits for nothing nova-usb holds and writes the domain while
  the USB change is in progress.

And the limits, asserted as they are:

* a lock, an unlock or a password clear made in the save window is
  undone in the system metadata by nova-usb's save: the server stays
  locked (unlocked) but the reason is deleted (comes back), the cleared
  password comes back; nothing in Nova's Instance.save() lets a save
  expect the system metadata it read;
* an attach saved while nova-api's lock request is between its read of
  the server and its save is deleted by that save (Nova's lock saves the
  whole system metadata it read); the domain and the claims keep the
  device until nova-compute's next start brings them to the stored
  requests.
"""

import contextlib
import threading
import time
from unittest import mock

import fixtures
from nova.api.metadata import password
from nova.compute import api as compute_api
from nova import objects
from nova.virt.libvirt import driver as libvirt_driver

from nova_usb.db import requests as usb_requests
from nova_usb.db import server_requests
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
    """Nova operations that set a task state: name -> (post the
    operation, wait for its end, system metadata keys the operation must
    leave behind).
    """
    server_id = test.server['id']

    def action(body):
        return lambda: test.api.post_server_action(server_id, body)

    def status(name):
        return lambda: test._wait_for_state_change(test.server, name)

    return {
        'hard reboot': (action({'reboot': {'type': 'HARD'}}),
                        status('ACTIVE'), ()),
        'stop': (action({'os-stop': None}), status('SHUTOFF'), ()),
        'shelve': (action({'shelve': None}), status('SHELVED_OFFLOADED'),
                   ('shelved_at', 'shelved_host', 'shelved_image_id')),
        'resize': (action({'resize': {'flavorRef': test.other_flavor}}),
                   status('VERIFY_RESIZE'), ('old_vm_state',)),
        'rebuild': (action({'rebuild': {'imageRef': test.image}}),
                    status('ACTIVE'), ()),
        'delete': (lambda: test.api.delete_server(server_id),
                   lambda: test._wait_until_deleted(test.server), ()),
    }


def _writers(test):
    """Nova writes that set no task state, as nova-api makes them: name ->
    (what is done before the race, the write, what it does to the system
    metadata, the check of its effect).

    Each one writes the server's row or rows of its own and waits for no
    lock nova-usb holds: a lock, an unlock, the server password cleared
    (Nova rewrites the whole system metadata for the lock's reason and for
    the password), the metadata replaced or added to (the
    instance_metadata table), a tag (the tags table), a port attached
    (the info cache and device metadata, and the domain).
    """
    server_id = test.server['id']
    api = test.api

    def action(body):
        return lambda: api.post_server_action(server_id, body)

    def lock_shown(locked, reason):
        def check():
            server = api.get_server(server_id)
            test.assertEqual((locked, reason),
                             (server['locked'], server['locked_reason']))
        return check

    def metadata_is(metadata):
        return lambda: test.assertEqual(metadata,
                                        api.get_server(server_id)['metadata'])

    def set_reason(sysmeta):
        sysmeta['locked_reason'] = 'audit'

    def drop_reason(sysmeta):
        del sysmeta['locked_reason']

    def set_password():
        # As the metadata service stores what the guest posts.
        instance = test.instance(test.server)
        instance.system_metadata.update(
            password.convert_password(test.ctxt, 'encrypted'))
        instance.save()

    def clear_password(sysmeta):
        sysmeta.update(password.convert_password(test.ctxt, None))

    def password_is(value):
        return lambda: test.assertEqual({'password': value}, api.api_get(
            '/servers/%s/os-server-password' % server_id).body)

    def port_attached():
        port = test.neutron.port_1
        test.assertEqual([port['id']], [
            a['port_id'] for a in api.get_port_interfaces(server_id)])
        test.assertIn(port['mac_address'], test.live_xml(test.server))

    return {
        'lock': (None, action({'lock': {'locked_reason': 'audit'}}),
                 set_reason, lock_shown(True, 'audit')),
        'unlock': (action({'lock': {'locked_reason': 'audit'}}),
                   action({'unlock': None}), drop_reason,
                   lock_shown(False, None)),
        'password clear': (
            set_password, lambda: api.api_delete(
                '/servers/%s/os-server-password' % server_id),
            clear_password, password_is('')),
        'metadata replaced': (
            lambda: api.post_server_metadata(server_id, {'owner': 'ops'}),
            lambda: api.api_put('/servers/%s/metadata' % server_id,
                                {'metadata': {'stage': 'test'}}),
            None, metadata_is({'stage': 'test'})),
        'metadata added': (
            lambda: api.post_server_metadata(server_id, {'owner': 'ops'}),
            lambda: api.post_server_metadata(server_id, {'stage': 'test'}),
            None, metadata_is({'owner': 'ops', 'stage': 'test'})),
        'tag': (None, lambda: api.api_put(
            '/servers/%s/tags/audit' % server_id, None,
            check_response_status=[201]),
            None, lambda: test.assertEqual(
                ['audit'], api.get_server_tags(server_id))),
        'port attach': (None, lambda: api.attach_interface(
            server_id, {'interfaceAttachment': {
                'port_id': test.neutron.port_1['id']}}),
            None, port_attached),
    }


class _RaceBase(helpers.UsbTestBase):
    """A server on compute1 without devices, the driver entry points of
    _WATCHED timed, and the ways to hold a USB change in its window.
    """

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

    def ran_meanwhile(self, started, outcome):
        """The timed driver entry points that started while the change
        held the server.
        """
        return [name for at, name in self.calls
                if started <= at < outcome['end']]

    # Windows of a USB change

    def hold_libvirt(self, method_name):
        """Hold the first USB host device call of ``method_name`` until
        released; returns (entered, release). nova-usb has not read the
        server again for its save yet.
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

    def hold_save(self):
        """Hold nova-usb's first save of a server's requests between its
        read of the server as stored now and its write, where a write of
        someone else is not in the copy it saves from; returns (entered,
        release).
        """
        entered, release = threading.Event(), threading.Event()
        read, save = server_requests.read, server_requests.save
        saving = threading.local()

        def held_read(context, instance_uuid):
            latest = read(context, instance_uuid)
            if getattr(saving, 'now', False) and not entered.is_set():
                entered.set()
                release.wait(timeout=60)
            return latest

        def watched_save(*args, **kwargs):
            saving.now = True
            try:
                return save(*args, **kwargs)
            finally:
                saving.now = False

        for name, new in (('read', held_read), ('save', watched_save)):
            patcher = mock.patch.object(server_requests, name, new)
            patcher.start()
            self.addCleanup(patcher.stop)
        return entered, release

    def hold(self, window, libvirt_call):
        if window == 'libvirt':
            return self.hold_libvirt(libvirt_call)
        return self.hold_save()

    def hold_nova_api(self, action):
        """Hold nova-api's request of ``action`` between its read of the
        server and its save, where it records the server action; returns
        (entered, release).
        """
        entered, release = threading.Event(), threading.Event()
        original = compute_api.API._record_action_start

        def held(api, context, instance, name):
            result = original(api, context, instance, name)
            if name == action and not entered.is_set():
                entered.set()
                release.wait(timeout=60)
            return result

        self.useFixture(fixtures.MockPatchObject(
            compute_api.API, '_record_action_start', held))
        return entered, release

    def start_change(self, change):
        """Run ``change`` in a thread of its own; returns (thread,
        outcome): outcome['change'] is 'made' or the exception,
        outcome['end'] the last moment the change held the server, and
        outcome['ended'] is set once it let the server go.
        """
        outcome = {'ended': threading.Event()}
        server_turn = locks.server_turn

        @contextlib.contextmanager
        def timed_turn(*args, **kwargs):
            try:
                with server_turn(*args, **kwargs):
                    try:
                        yield
                    finally:
                        # Taken before the locks are let go: a Nova step
                        # that waited for them starts after it.
                        outcome['end'] = time.monotonic()
            finally:
                outcome.setdefault('end', time.monotonic())
                outcome['ended'].set()

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
        return thread, outcome

    # What is stored

    def system_metadata(self):
        return dict(self.instance(self.server).system_metadata)

    def assertSystemMetadata(self, before, after, change=None):
        """``after`` is ``before`` with the other writer's ``change`` and
        with nova-usb's keys as the server's stored requests: no other key
        changed, none lost.
        """
        expected = dict(before)
        if change is not None:
            change(expected)
        usb_requests.store(expected, self.requests(self.server))
        self.assertEqual(expected, after)

    def nova_keys(self):
        sysmeta = self.instance(self.server).system_metadata
        return {k: v for k, v in sysmeta.items()
                if not k.startswith(usb_requests.DEVICES_KEY)}

    def held_by(self, device_id):
        return self.host_device(device_id)['server_id']

    def domain_devices(self):
        """nova-usb's host devices in the live and persistent domain on
        the server's host.
        """
        instance = self.instance(self.server)
        if instance.host is None:
            return None
        guest = self.guest(self.server, host=instance.host)
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


class RaceTestCase(_RaceBase):

    def race(self, change, libvirt_call, operation):
        post, wait, left_behind = _operations(self)[operation]
        keys_before = self.nova_keys()
        entered, release = self.hold_libvirt(libvirt_call)
        thread, outcome = self.start_change(change)
        self.assertTrue(entered.wait(timeout=30))
        started = time.monotonic()
        # Nova's harness turns casts into calls: the operation's request
        # returns once its compute side has run, so it is sent from a
        # thread of its own, and libvirt is let go once nova-api has
        # accepted it (its task state is stored).
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
        self.assertEqual([], self.ran_meanwhile(started, outcome))
        # The operation set its task state first: the change lost.
        self.assertIsInstance(outcome['change'],
                              exception.UsbChangeInterrupted)
        if operation == 'delete':
            return outcome['change']
        keys_after = self.nova_keys()
        # Nova's keys: none lost, and those the operation writes are there.
        self.assertEqual(set(), set(keys_before) - set(keys_after) -
                         {'old_vm_state'})
        for key in left_behind:
            self.assertIn(key, keys_after)
        return outcome['change']

    def snapshot_race(self, change, libvirt_call):
        """A snapshot (createImage) sent while ``change`` is held in its
        libvirt call. The snapshot's compute side does not wait for the
        change: its disk copy starts meanwhile and here lasts until the
        change has ended, as the copy of a real disk would.
        """
        keys_before = self.nova_keys()
        self._spy('snapshot')
        copying, ended = threading.Event(), threading.Event()

        def live_snapshot(driver, context, instance, guest, disk_path,
                          out_path, *args):
            # No disk is copied here (Nova's libvirt driver also takes the
            # domain's definition away and defines it again from its copy,
            # which fakelibvirt cannot: it drops a running domain).
            copying.set()
            ended.wait(timeout=60)
            with open(out_path, 'wb'):
                pass

        self.useFixture(fixtures.MockPatchObject(
            libvirt_driver.LibvirtDriver, '_live_snapshot', live_snapshot))
        entered, release = self.hold_libvirt(libvirt_call)
        thread, outcome = self.start_change(change)
        try:
            self.assertTrue(entered.wait(timeout=30))
            started = time.monotonic()
            image_id = self.api.post_server_action(
                self.server['id'],
                {'createImage': {'name': 'snapshot'}})['image_id']
            polling.wait_for(copying.is_set, "the snapshot's disk copy to "
                             "start", timeout=30)
        finally:
            release.set()
            thread.join(timeout=120)
            ended.set()
        self.assertFalse(thread.is_alive())
        polling.wait_for(
            lambda: self.instance(self.server).task_state is None,
            'the snapshot to end', timeout=60)
        self.assertEqual('active',
                         self.glance.show(self.ctxt, image_id)['status'])
        self.assertEqual(['snapshot'], self.ran_meanwhile(started, outcome))
        # nova-api stored the snapshot's task state before the change's
        # save: the change lost.
        self.assertIsInstance(outcome['change'],
                              exception.UsbChangeInterrupted)
        self.assertEqual(keys_before, self.nova_keys())

    def operation_accepted(self):
        return self.instance(self.server).task_state is not None

    def write_race(self, change, libvirt_call, window, writer):
        """Make ``writer``'s write (_writers) while ``change`` is held in
        ``window``: 'libvirt' (its libvirt call, before nova-usb reads the
        server again to save) or 'save' (after that read, before the
        save). The change must be made. Returns the server's system
        metadata before (after the writer's preparation) and after.
        """
        prepare, write = _writers(self)[writer][:2]
        if prepare is not None:
            prepare()
        before = self.system_metadata()
        entered, release = self.hold(window, libvirt_call)
        thread, outcome = self.start_change(change)
        try:
            self.assertTrue(entered.wait(timeout=30))
            # Nova's write waits for nothing nova-usb holds: it is done
            # while the change is in its window.
            write()
            self.assertFalse(outcome['ended'].is_set())
        finally:
            release.set()
            thread.join(timeout=120)
        self.assertFalse(thread.is_alive())
        self.assertEqual('made', outcome['change'])
        return before, self.system_metadata()

    def lock_shown(self):
        server = self.api.get_server(self.server['id'])
        return server['locked'], server['locked_reason']

    def assertBothWrote(self, writer, before, after):
        """The other writer's effect is there, and the system metadata is
        ``before`` with its change and nova-usb's, nothing else.
        """
        change, check = _writers(self)[writer][2:]
        check()
        self.assertSystemMetadata(before, after, change)

    # Attach against each operation that sets a task state

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

    def test_attach_against_snapshot(self):
        self.snapshot_race(lambda: self.attach(self.server, self.key1),
                           'attachDeviceFlags')
        self.assertAgree(self.key1, wanted=False)

    # Detach against each operation that sets a task state

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

    def test_detach_against_snapshot(self):
        self.attach(self.server, self.key1)
        self.snapshot_race(lambda: self.detach(self.server, self.key1),
                           'detachDeviceFlags')
        self.assertAgree(self.key1, wanted=True)

    # Attach against each write that sets no task state

    def attach_write_race(self, writer, window):
        before, after = self.write_race(
            lambda: self.attach(self.server, self.key1),
            'attachDeviceFlags', window, writer)
        self.assertAgree(self.key1, wanted=True)
        return before, after

    def test_attach_against_lock(self):
        self.assertBothWrote('lock', *self.attach_write_race(
            'lock', 'libvirt'))

    def test_attach_against_unlock(self):
        self.assertBothWrote('unlock', *self.attach_write_race(
            'unlock', 'libvirt'))

    def test_attach_against_metadata_replaced(self):
        self.assertBothWrote('metadata replaced', *self.attach_write_race(
            'metadata replaced', 'save'))

    def test_attach_against_metadata_added(self):
        self.assertBothWrote('metadata added', *self.attach_write_race(
            'metadata added', 'save'))

    def test_attach_against_tag(self):
        self.assertBothWrote('tag', *self.attach_write_race('tag', 'save'))

    def test_attach_against_lock_before_its_save(self):
        # A limit: Nova's lock writes the reason into the system metadata
        # and sets no task state, and nothing in Nova's Instance.save()
        # lets nova-usb's save expect the system metadata it read. A lock
        # made between that read and the save keeps the server locked,
        # but its reason is deleted.
        before, after = self.attach_write_race('lock', 'save')
        self.assertEqual((True, None), self.lock_shown())
        self.assertSystemMetadata(before, after)

    def test_attach_against_unlock_before_its_save(self):
        # The same limit: the reason an unlock deleted comes back.
        before, after = self.attach_write_race('unlock', 'save')
        self.assertEqual((False, 'audit'), self.lock_shown())
        self.assertSystemMetadata(before, after)

    def test_attach_against_password_clear(self):
        self.assertBothWrote('password clear', *self.attach_write_race(
            'password clear', 'libvirt'))

    def test_attach_against_password_clear_before_its_save(self):
        # The same limit: the password cleared comes back.
        before, after = self.attach_write_race('password clear', 'save')
        self.assertEqual({'password': 'encrypted'}, self.api.api_get(
            '/servers/%s/os-server-password' % self.server['id']).body)
        self.assertSystemMetadata(before, after)

    def test_attach_inside_a_lock_request(self):
        # Nova's own limit: nova-api's lock reads the server, records the
        # action, then saves the whole system metadata it read with the
        # reason. An attach saved in between loses its request. The host
        # and the domain still give the device to the server, until
        # nova-compute's next start brings them to the stored requests.
        before = self.system_metadata()
        entered, release = self.hold_nova_api('lock')
        posted = threading.Thread(target=_writers(self)['lock'][1])
        posted.start()
        try:
            self.assertTrue(entered.wait(timeout=30))
            self.attach(self.server, self.key1)
            self.assertEqual([self.key1], [
                r.id for r in self.requests(self.server).devices])
        finally:
            release.set()
            posted.join(timeout=60)
        self.assertFalse(posted.is_alive())
        self.assertEqual((True, 'audit'), self.lock_shown())
        self.assertEqual((), self.requests(self.server).devices)
        self.assertSystemMetadata(before, self.system_metadata(),
                                  _writers(self)['lock'][2])
        self.assertEqual(self.server['id'], self.held_by(self.key1))
        self.assertEqual(([self.key1], [self.key1]), self.domain_devices())
        self.restart_compute_service('compute1')
        self.assertAgree(self.key1, wanted=False)

    def test_attach_against_port_attach(self):
        self.assertBothWrote('port attach', *self.attach_write_race(
            'port attach', 'libvirt'))

    def test_attach_against_port_attach_before_its_save(self):
        self.assertBothWrote('port attach', *self.attach_write_race(
            'port attach', 'save'))

    # Detach against each write that sets no task state

    def detach_write_race(self, writer, window):
        self.attach(self.server, self.key1)
        before, after = self.write_race(
            lambda: self.detach(self.server, self.key1),
            'detachDeviceFlags', window, writer)
        self.assertAgree(self.key1, wanted=False)
        return before, after

    def test_detach_against_lock(self):
        self.assertBothWrote('lock', *self.detach_write_race(
            'lock', 'libvirt'))

    def test_detach_against_unlock(self):
        self.assertBothWrote('unlock', *self.detach_write_race(
            'unlock', 'libvirt'))

    def test_detach_against_metadata_replaced(self):
        self.assertBothWrote('metadata replaced', *self.detach_write_race(
            'metadata replaced', 'save'))

    def test_detach_against_metadata_added(self):
        self.assertBothWrote('metadata added', *self.detach_write_race(
            'metadata added', 'save'))

    def test_detach_against_tag(self):
        self.assertBothWrote('tag', *self.detach_write_race('tag', 'save'))

    def test_detach_against_lock_before_its_save(self):
        # The limit of test_attach_against_lock_before_its_save.
        before, after = self.detach_write_race('lock', 'save')
        self.assertEqual((True, None), self.lock_shown())
        self.assertSystemMetadata(before, after)

    def test_detach_against_unlock_before_its_save(self):
        before, after = self.detach_write_race('unlock', 'save')
        self.assertEqual((False, 'audit'), self.lock_shown())
        self.assertSystemMetadata(before, after)

    def test_detach_against_password_clear(self):
        self.assertBothWrote('password clear', *self.detach_write_race(
            'password clear', 'libvirt'))

    def test_detach_against_password_clear_before_its_save(self):
        before, after = self.detach_write_race('password clear', 'save')
        self.assertEqual({'password': 'encrypted'}, self.api.api_get(
            '/servers/%s/os-server-password' % self.server['id']).body)
        self.assertSystemMetadata(before, after)

    def test_detach_against_port_attach(self):
        self.assertBothWrote('port attach', *self.detach_write_race(
            'port attach', 'libvirt'))

    def test_detach_against_port_attach_before_its_save(self):
        self.assertBothWrote('port attach', *self.detach_write_race(
            'port attach', 'save'))


class LiveMigrationRaceTestCase(_RaceBase):
    """A live migration to compute2 sent while a USB change on the server
    is in progress.
    """

    def setUp(self):
        super().setUp()
        self.start_compute('compute2')
        for name in ('pre_live_migration', 'live_migration'):
            self._spy(name)
        # As Nova's own functional tests do (LibvirtMigrationMixin): the
        # domain appears on compute2 as libvirt sent it.

        def migrate(domain, destination, params, flags):
            self.calls.append((time.monotonic(), 'migrateToURI3'))
            self.computes['compute2'].driver._host.get_connection(
            ).createXML(params['destination_xml'],
                        'fake-createXML-doesnt-care-about-flags')
            domain.complete_job()

        self.useFixture(fixtures.MockPatchObject(
            fakelibvirt_usb.UsbDomain, 'migrateToURI3', migrate))

    def live_migration_race(self, change, libvirt_call, window):
        """Hold ``change`` in ``window`` until the live migration waits for
        it (or, were it not to wait, has ended), then let it go; returns
        the change's outcome.
        """
        keys_before = self.nova_keys()
        waiting = threading.Event()
        domain_turn = locks.domain_turn

        def watched_turn(instance_uuid):
            if instance_uuid == self.server['id']:
                waiting.set()
            return domain_turn(instance_uuid)

        self.useFixture(fixtures.MockPatchObject(locks, 'domain_turn',
                                                 watched_turn))
        entered, release = self.hold(window, libvirt_call)
        thread, outcome = self.start_change(change)
        posted = threading.Thread(target=lambda: self.api.post_server_action(
            self.server['id'], {'os-migrateLive': {
                'host': 'compute2', 'block_migration': 'auto'}}))
        try:
            self.assertTrue(entered.wait(timeout=30))
            started = time.monotonic()
            posted.start()
            polling.wait_for(
                lambda: waiting.is_set() or self.migration_status() in (
                    'completed', 'error'),
                'the live migration to wait for the change, or to end',
                timeout=30)
        finally:
            release.set()
            thread.join(timeout=120)
            if posted.ident is not None:
                posted.join(timeout=120)
        self.assertFalse(thread.is_alive() or posted.is_alive())
        polling.wait_for(
            lambda: self.instance(self.server).task_state is None,
            'the live migration to end', timeout=60)
        # Nothing of the migration ran on either host while the change
        # held the server: its source check waited for the change.
        self.assertEqual([], self.ran_meanwhile(started, outcome))
        # nova-api stored the migrating task state first: the change lost.
        self.assertIsInstance(outcome['change'],
                              exception.UsbChangeInterrupted)
        self.assertEqual(set(), set(keys_before) - set(self.nova_keys()))
        return outcome['change']

    def migration_status(self):
        migrations = objects.MigrationList.get_by_filters(
            self.ctxt, {'instance_uuid': self.server['id']})
        return migrations[0].status if migrations else None

    def assertMigrated(self):
        """On compute2, without the device anywhere."""
        server = self._wait_for_state_change(self.server, 'ACTIVE')
        self.assertEqual('compute2', server['OS-EXT-SRV-ATTR:host'])
        self.assertAgree(self.key1, wanted=False)
        self.assertEqual({}, usb_guest.hostdevs_in(
            self.live_xml(self.server, host='compute2'))[0])

    def test_attach_against_live_migration(self):
        self.live_migration_race(
            lambda: self.attach(self.server, self.key1),
            'attachDeviceFlags', 'libvirt')
        self.assertMigrated()

    def test_attach_against_live_migration_before_its_save(self):
        # The device is in the domain already when the migration is sent.
        self.live_migration_race(
            lambda: self.attach(self.server, self.key1),
            'attachDeviceFlags', 'save')
        self.assertMigrated()

    def test_detach_against_live_migration(self):
        # The server holds the device: once the change is undone, the
        # migration's source check refuses it.
        self.attach(self.server, self.key1)
        self.live_migration_race(
            lambda: self.detach(self.server, self.key1),
            'detachDeviceFlags', 'libvirt')
        self._wait_for_migration_status(self.server, ['error'])
        server = self._wait_for_state_change(self.server, 'ACTIVE')
        self.assertEqual('compute1', server['OS-EXT-SRV-ATTR:host'])
        self.assertAgree(self.key1, wanted=True)
