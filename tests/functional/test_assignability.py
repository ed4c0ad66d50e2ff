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
give-back and listing.

An operator takes the YubiKeys out of [usb] device_spec while a server
holds one; nova-compute restarts with the new rule.
"""

from nova_usb import exception
from nova_usb.virt import devspec
from nova_usb.virt import guest as usb_guest
from tests.functional import base
from tests.functional import test_attach_detach as helpers


class DeviceSpecChangeTestCase(helpers.Hotplug, helpers.UsbTestBase):

    def setUp(self):
        super().setUp()
        server = self._stop_server(self._create_server(networks='none'))
        # On a controller of its own: the guest has ports to spare.
        self.attach(server, self.key1, controller_model='qemu-xhci')
        self.server = self._start_server(server)
        self.flags(device_spec=['{"vendor_id": "%s"}' % base.LICENCE_VENDOR],
                   group='usb')
        self.restart_compute_service('compute1')

    def listed(self):
        return {d['id']: (d['status'], d['reason']) for d in
                self.usb_api.list_server_devices(
                    self.ctxt, self.instance(self.server))}

    def test_listed_missing_with_the_reason(self):
        self.assertEqual(
            {self.key1: ('missing', devspec.REASON_NOT_MATCHED)},
            self.listed())
        # The server keeps its request; the operator decides.
        self.assertEqual([self.key1],
                         [r.id for r in self.requests(self.server).devices])

    def test_left_out_when_nova_writes_the_domain(self):
        self._reboot_server(self.server, hard=True)
        self.assertEqual({}, usb_guest.hostdevs_in(
            self.live_xml(self.server))[0])
        self.assertIn('USB device %s requested by the server is %s; booting '
                      'without it' % (self.key1, devspec.REASON_NOT_MATCHED),
                      self.stdlog.logger.output)

    def test_not_given_back_when_it_comes_back(self):
        self._reboot_server(self.server, hard=True)
        key = self.unplug('1-1.1')
        self.plug(key, devnum=40)
        message = ('USB device %s is back on the host but is %s: not given '
                   'back to the server' % (self.key1,
                                           devspec.REASON_NOT_MATCHED))
        self.wait_for(lambda: message in self.stdlog.logger.output,
                      'the give-back refused')
        self.assertEqual({}, usb_guest.hostdevs_in(
            self.live_xml(self.server))[0])

    def test_nor_attached_again(self):
        self.detach(self.server, self.key1)
        error = self.assertRaises(exception.UsbDeviceNotAssignable,
                                  self.attach, self.server, self.key1)
        self.assertIn(devspec.REASON_NOT_MATCHED, str(error))

    def test_allowed_again_it_comes_back_at_the_next_start(self):
        self._reboot_server(self.server, hard=True)
        self.flags(device_spec=['{"vendor_id": "%s"}' % base.YUBICO],
                   group='usb')
        self.restart_compute_service('compute1')
        # nova-compute's start-up brings the domain to the requests.
        self.assertEqual([self.key1], list(usb_guest.hostdevs_in(
            self.live_xml(self.server))[0]))
        self.assertEqual({self.key1: ('attached', None)}, self.listed())
