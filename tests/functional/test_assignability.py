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

"""One assignability rule on every path: attach, the domain Nova writes,
give-back and listing; and what nova-compute's start does with a device
the rule no longer allows.

An operator takes the YubiKeys out of [usb] device_spec while a server
holds one; nova-compute restarts with the new rule.
"""

from nova_usb import exception
from nova_usb.virt import devspec
from nova_usb.virt import guest as usb_guest
from tests.functional import base
from tests.functional import test_attach_detach as helpers

ONLY_DONGLES = ['{"vendor_id": "%s", "projects": "*"}' % base.LICENCE_VENDOR]


class DeviceSpecChangeTestCase(helpers.Hotplug, helpers.UsbTestBase):

    def setUp(self):
        super().setUp()
        server = self._stop_server(self._create_server(networks='none'))
        # On a controller of its own: the guest has ports to spare.
        self.attach(server, self.key1, controller_model='qemu-xhci')
        self.server = self._start_server(server)

    def restart_with(self, device_spec):
        self.flags(device_spec=device_spec, group='usb')
        self.restart_compute_service('compute1')

    def listed(self):
        return {d['id']: (d['status'], d['reason']) for d in
                self.usb_api.list_server_devices(
                    self.ctxt, self.instance(self.server))}

    def revocations(self):
        """(event, result) of the server's usb_revoke actions."""
        found = []
        for action in self.api.get_instance_actions(self.server['id']):
            if action['action'] != 'usb_revoke':
                continue
            detail = self.api.api_get(
                '/servers/%s/os-instance-actions/%s' % (
                    self.server['id'], action['request_id'])).body
            found += [(e['event'], e['result'])
                      for e in detail['instanceAction']['events']]
        return found

    def test_taken_back_at_start_and_the_owner_reads_why(self):
        self.notifier.reset()
        self.restart_with(ONLY_DONGLES)
        self.assertEqual({}, self.listed())
        self.assertEqual((), self.requests(self.server).devices)
        self.assertEqual({}, usb_guest.hostdevs_in(
            self.live_xml(self.server))[0])
        self.assertIsNone(self.host_device(self.key1)['server_id'])
        self.assertEqual([('compute_usb_revoke', 'Success')],
                         self.revocations())
        self.assertEqual(
            [('instance.usb_revoke.start', 'nova-compute:compute1'),
             ('instance.usb_revoke.end', 'nova-compute:compute1')],
            [(n['event_type'], n['publisher_id'])
             for n in self.notifier.versioned_notifications
             if n['event_type'].startswith('instance.usb_revoke')])
        self.assertIn('USB device %s detached from the server: it is %s' % (
            self.key1, devspec.REASON_NOT_MATCHED), self.stdlog.logger.output)

    def test_a_stopped_server_loses_it_too(self):
        self.server = self._stop_server(self.server)
        self.restart_with(ONLY_DONGLES)
        self.assertEqual((), self.requests(self.server).devices)
        self.server = self._start_server(self.server)
        self.assertEqual({}, usb_guest.hostdevs_in(
            self.live_xml(self.server))[0])

    def test_a_rule_for_flavors_only_takes_it_back_too(self):
        self.restart_with([
            '{"vendor_id": "%s", "projects": "*", "use": "flavor"}' %
            base.YUBICO])
        self.assertEqual((), self.requests(self.server).devices)
        error = self.assertRaises(exception.UsbDeviceNotAssignable,
                                  self.attach, self.server, self.key1)
        self.assertIn(devspec.REASON_FLAVOR_ONLY, str(error))

    def test_nor_attached_again(self):
        self.restart_with(ONLY_DONGLES)
        error = self.assertRaises(exception.UsbDeviceNotAssignable,
                                  self.attach, self.server, self.key1)
        self.assertIn(devspec.REASON_NOT_MATCHED, str(error))

    def test_a_device_away_at_start_is_kept_missing_and_not_given_back(self):
        # A device that is not on the host cannot be judged (a rule may
        # name its serial or port): the request stays, listed missing.
        key = self.unplug('1-1.1')
        self.restart_with(ONLY_DONGLES)
        self.assertEqual({self.key1: ('missing', 'not on the host now')},
                         self.listed())
        self._reboot_server(self.server, hard=True)
        self.plug(key, devnum=40)
        message = ('USB device %s is back on the host but is %s: not given '
                   'back to the server' % (self.key1,
                                           devspec.REASON_NOT_MATCHED))
        self.wait_for(lambda: message in self.stdlog.logger.output,
                      'the give-back refused')
        self.assertEqual({}, usb_guest.hostdevs_in(
            self.live_xml(self.server))[0])
        self.assertEqual(
            {self.key1: ('missing', devspec.REASON_NOT_MATCHED)},
            self.listed())
        # Allowed again: back at the next start.
        self.restart_with([
            '{"vendor_id": "%s", "projects": "*"}' % base.YUBICO])
        self.assertEqual([self.key1], list(usb_guest.hostdevs_in(
            self.live_xml(self.server))[0]))
        self.assertEqual({self.key1: ('attached', None)}, self.listed())
