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

"""nova-compute stops between two steps of a change; after its restart the
domain (live and persistent), the stored requests and the claims agree,
and the stored requests won (nova_usb.virt.reconcile).

The process's death is simulated in this one process: an exception that
no handler of nova-usb catches (a BaseException, as no ``except
Exception`` stops it) ends the change at the step, so none of its undo
steps runs; then the compute service restarts with the hypervisor's
domains kept, as a new nova-compute process finds them.
"""

import contextlib
from unittest import mock

from nova_usb.db import server_requests
from nova_usb.virt import guest as usb_guest
from tests.functional import test_attach_detach as helpers


class Died(BaseException):
    """nova-compute dies here."""


@contextlib.contextmanager
def dies(target, name, after=True):
    """nova-compute dies right after (or before) ``target.name`` runs."""
    original = getattr(target, name)

    def step(*args, **kwargs):
        if after:
            original(*args, **kwargs)
        raise Died(name)

    with mock.patch.object(target, name, step):
        yield


class CrashTestCase(helpers.Hotplug, helpers.UsbTestBase):

    def setUp(self):
        super().setUp()
        self.server = self._create_server(networks='none')

    def change(self, method, *args):
        """Run a change on the compute host, as its RPC endpoint does."""
        usb = self.computes['compute1'].driver.usb
        self.assertRaises(Died, getattr(usb, method), self.ctxt,
                          self.instance(self.server), *args)

    def restart(self):
        self.restart_compute_service('compute1')
        self.server = self.api.get_server(self.server['id'])

    def assertAgree(self, wanted, controllers=None):
        """The stored requests are ``wanted``; the claims, the domain
        (live and persistent for a running server, persistent for a
        stopped one: no device it does not request) and the server's
        allocation in placement say the same.
        """
        allocated = self.placement.get(
            '/allocations/%s' % self.server['id'],
            version='1.28').body['allocations']
        self.assertEqual(sorted(wanted), sorted(
            d for d in allocated if self.usb.inventory.get(d)))
        requests = self.requests(self.server)
        self.assertEqual(sorted(wanted), sorted(r.id for r in
                                                requests.devices))
        if controllers is not None:
            self.assertEqual(controllers,
                             [c.model for c in requests.controllers])
        claims = self.usb.claims.snapshot()
        self.assertEqual(sorted(wanted), sorted(
            d for d, holder in claims.items()
            if holder == self.server['id']))
        persistent = sorted(usb_guest.hostdevs_in(
            self.config_xml(self.server))[0])
        if self.server['status'] == 'ACTIVE':
            self.assertEqual(sorted(wanted), sorted(usb_guest.hostdevs_in(
                self.live_xml(self.server))[0]))
            self.assertEqual(sorted(wanted), persistent)
        else:
            self.assertEqual([], sorted(set(persistent) - set(wanted)))

    # Live attach: claim, libvirt, save

    def test_live_attach_dies_after_libvirt(self):
        with dies(usb_guest.UsbGuest, 'attach'):
            self.change('attach_device', self.key1)
        self.restart()
        self.assertAgree([])

    def test_live_attach_dies_after_the_save(self):
        with dies(server_requests, 'save'):
            self.change('attach_device', self.key1)
        self.restart()
        self.assertAgree([self.key1])

    # Live detach: libvirt, save, release

    def test_live_detach_dies_after_libvirt(self):
        self.attach(self.server, self.key1)
        with dies(usb_guest.UsbGuest, 'detach'):
            self.change('detach_device', self.key1)
        self.restart()
        self.assertAgree([self.key1])

    def test_live_detach_dies_after_the_save(self):
        self.attach(self.server, self.key1)
        with dies(server_requests, 'save'):
            self.change('detach_device', self.key1)
        self.restart()
        self.assertAgree([])

    # Stopped server: save only (detach: then the persistent definition)

    def test_cold_attach_dies_before_the_save(self):
        self.server = self._stop_server(self.server)
        with dies(server_requests, 'save', after=False):
            self.change('attach_device', self.key1)
        self.restart()
        self.assertAgree([])

    def test_cold_attach_dies_after_the_save(self):
        self.server = self._stop_server(self.server)
        with dies(server_requests, 'save'):
            self.change('attach_device', self.key1, 'ehci')
        self.restart()
        self.assertAgree([self.key1], controllers=['ehci'])
        self.server = self._start_server(self.server)
        self.assertAgree([self.key1])

    def test_cold_detach_dies_before_the_definition_is_cleaned(self):
        self.attach(self.server, self.key1)
        self.server = self._stop_server(self.server)
        self.assertEqual([self.key1], list(usb_guest.hostdevs_in(
            self.config_xml(self.server))[0]))
        with dies(usb_guest.UsbGuest, 'detach_persistent', after=False):
            self.change('detach_device', self.key1)
        self.restart()
        self.assertAgree([])
        self.assertEqual({}, usb_guest.hostdevs_in(
            self.config_xml(self.server))[0])

    # Controllers: save only

    def test_controller_add_dies_after_the_save(self):
        self.server = self._stop_server(self.server)
        with dies(server_requests, 'save'):
            self.change('add_controller', 'ehci')
        self.restart()
        self.assertAgree([], controllers=['ehci'])

    def test_controller_remove_dies_after_the_save(self):
        self.server = self._stop_server(self.server)
        self.usb_api.add_controller(self.ctxt, self.instance(self.server),
                                    'ehci')
        index = self.requests(self.server).controllers[0].index
        with dies(server_requests, 'save'):
            self.change('remove_controller', index)
        self.restart()
        self.assertAgree([], controllers=[])

    # Give-back: the stale device detached, the device attached again

    def test_give_back_dies_between_its_detach_and_its_attach(self):
        server = self._stop_server(self.server)
        self.attach(server, self.key1, controller_model='qemu-xhci')
        self.server = self._start_server(server)
        key = self.unplug('1-1.1')
        with dies(usb_guest.UsbGuest, 'detach'):
            self.plug(key, devnum=41)
            self.wait_for(lambda: not usb_guest.hostdevs_in(
                self.live_xml(self.server))[0],
                'the give-back to die after its detach')
        self.restart()
        self.assertAgree([self.key1])
        hostdev = usb_guest.hostdevs_in(self.live_xml(self.server))[0][
            self.key1]
        self.assertEqual(41, hostdev.host_device)

    # What nova-api answered

    def test_nova_api_answers_by_what_was_saved(self):
        # No reply comes: nova-api waits [DEFAULT] rpc_response_timeout,
        # then reads the stored requests. (The compute host's deadline is
        # 10 s before the end of that wait: 6 s to reach the save.)
        self.flags(rpc_response_timeout=16)
        with dies(server_requests, 'save'):
            shown = self.attach(self.server, self.key1)
        self.assertEqual(self.key1, shown['id'])
        self.restart()
        self.assertAgree([self.key1])
