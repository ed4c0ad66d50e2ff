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

"""USB controllers: added and removed while the server is stopped."""

from lxml import etree

from nova_usb import exception
from tests.functional import test_attach_detach as helpers


def controllers(domain_xml):
    return {int(c.get('index')): (c.get('model'), c.get('ports'))
            for c in etree.fromstring(domain_xml).iterfind(
                "devices/controller[@type='usb']")}


class ControllersTestCase(helpers.UsbTestBase):

    def setUp(self):
        super().setUp()
        self.server = self._create_server(networks='none')

    def controllers_of(self, server):
        return self.usb_api.list_controllers(self.ctxt,
                                             self.instance(server))

    def add(self, server, model, ports=None):
        return self.usb_api.add_controller(self.ctxt, self.instance(server),
                                           model, ports)

    def remove(self, server, index):
        return self.usb_api.remove_controller(self.ctxt,
                                              self.instance(server), index)

    def test_add_while_stopped_then_start(self):
        server = self._stop_server(self.server)
        added = self.add(server, 'qemu-xhci', 8)
        self.assertEqual({'index': 1, 'model': 'qemu-xhci', 'ports': 8,
                          'used_ports': 0, 'removable': True},
                         added.to_dict())
        second = self.add(server, 'ehci')
        self.assertEqual((2, 6), (second['index'], second['ports']))
        self.assertEqual([(0, False), (1, True), (2, True)],
                         [(c['index'], c['removable'])
                          for c in self.controllers_of(server)])
        server = self._start_server(server)
        self.assertEqual(('qemu-xhci', '8'),
                         controllers(self.live_xml(server))[1])
        self.assertEqual(('ehci', None),
                         controllers(self.live_xml(server))[2])
        self._reboot_server(server, hard=True)
        self.assertEqual({1, 2}, set(controllers(self.live_xml(server))) -
                         {0})

    def test_listing_a_running_server_counts_used_ports(self):
        self.attach(self.server, self.key1)
        listed = self.controllers_of(self.server)
        # Nova's controller: its tablet and the key.
        self.assertEqual([(0, 2)], [(c['index'], c['used_ports'])
                                    for c in listed])

    def test_listing_a_stopped_server_counts_the_next_start(self):
        server = self._stop_server(self.server)
        self.add(server, 'qemu-xhci')
        self.attach(server, self.key1, controller_model='qemu-xhci')
        self.attach(server, self.dongle)
        # Nova's piix3-uhci: the tablet and the dongle; qemu-xhci: the key.
        self.assertEqual([(0, 2), (1, 1)],
                         [(c['index'], c['used_ports'])
                          for c in self.controllers_of(server)])
        self.detach(server, self.dongle)
        self.assertEqual([(0, 1), (1, 1)],
                         [(c['index'], c['used_ports'])
                          for c in self.controllers_of(server)])
        server = self._start_server(server)
        self.assertEqual(1, self.controllers_of(server)[1]['used_ports'])

    def assertRefused(self, error_class, call, fragment, server=None):
        server = server or self.server
        before = self.snapshot(server)
        error = self.assertRaises(error_class, call)
        self.assertIn(fragment, str(error))
        self.assertUnchanged(server, before)
        return error

    def test_add_while_running_is_refused(self):
        error = self.assertRefused(
            exception.UsbInstanceInvalidState,
            lambda: self.add(self.server, 'ehci'), 'vm_state active')
        self.assertEqual(409, error.code)

    def test_remove_while_running_is_refused(self):
        server = self._stop_server(self.server)
        self.add(server, 'ehci')
        server = self._start_server(server)
        self.assertRefused(exception.UsbInstanceInvalidState,
                           lambda: self.remove(server, 1),
                           'vm_state active', server=server)

    def test_bad_models_and_ports(self):
        server = self._stop_server(self.server)
        for model, ports, error_class, fragment in [
                ('usb4', None, exception.UnknownControllerModel, 'usb4'),
                ('ich9-uhci1', None, exception.UnknownControllerModel,
                 'ich9-uhci1'),
                ('ehci', 4, exception.InvalidControllerPorts, 'has 6 ports'),
                ('qemu-xhci', 16, exception.InvalidControllerPorts,
                 '1 to 15')]:
            error = self.assertRefused(
                error_class, lambda: self.add(server, model, ports),
                fragment, server=server)
            self.assertEqual(400, error.code)

    def test_at_most_max_controllers(self):
        self.flags(max_controllers_per_server=2, group='usb')
        server = self._stop_server(self.server)
        self.add(server, 'ehci')
        self.add(server, 'ehci')
        self.assertRefused(exception.UsbTooManyControllers,
                           lambda: self.add(server, 'ehci'), 'at most 2',
                           server=server)

    def test_remove(self):
        server = self._stop_server(self.server)
        self.add(server, 'ehci')
        self.remove(server, 1)
        self.assertEqual((), self.requests(server).controllers)
        server = self._start_server(server)
        self.assertNotIn(1, controllers(self.live_xml(server)))

    def test_nova_controller_cannot_be_removed(self):
        server = self._stop_server(self.server)
        error = self.assertRefused(exception.UsbControllerNotFound,
                                   lambda: self.remove(server, 0),
                                   'not added through nova-usb',
                                   server=server)
        self.assertEqual(404, error.code)

    def test_remove_with_a_device_on_it_is_refused(self):
        server = self._stop_server(self.server)
        self.attach(server, self.key1, controller_model='ehci')
        self.assertRefused(exception.UsbControllerInUse,
                           lambda: self.remove(server, 1),
                           'attached to a ehci controller', server=server)

    def test_remove_leaves_libvirt_to_add_hubs(self):
        server = self._stop_server(self.server)
        self.add(server, 'ehci')
        for device_id in self.dongles:
            self.attach(server, device_id)
        self.remove(server, 1)
        server = self._start_server(server)
        self.assertEqual(4, len(helpers.hostdevs(self.live_xml(server))))

    def test_remove_that_would_leave_too_few_model_ports_is_refused(self):
        server = self._stop_server(self.server)
        # Nova's piix3-uhci (index 0) and index 1: four piix3-uhci ports.
        self.add(server, 'piix3-uhci')
        for device_id in self.dongles:
            self.attach(server, device_id, controller_model='piix3-uhci')
        self.assertRefused(exception.UsbNoFreePort,
                           lambda: self.attach(server, self.key1,
                                               'piix3-uhci'),
                           "server's piix3-uhci controllers are all",
                           server=server)
        self.add(server, 'piix3-uhci')
        self.attach(server, self.key1, controller_model='piix3-uhci')
        self.assertRefused(exception.UsbControllerInUse,
                           lambda: self.remove(server, 2),
                           'would not fit', server=server)
        server = self._start_server(server)
        self.assertEqual(5, len(helpers.hostdevs(self.live_xml(server))))

    def test_stopped_server_gets_the_controller_model_it_asks_for(self):
        server = self._stop_server(self.server)
        self.attach(server, self.key1, controller_model='ehci')
        self.assertEqual([('ehci', 1)], [
            (c.model, c.index) for c in self.requests(server).controllers])
        server = self._start_server(server)
        self.assertEqual(('ehci', None), controllers(self.live_xml(server))[1])
        device = list(helpers.hostdevs(self.live_xml(server)).values())[0]
        # On the ehci controller, bus 1.
        self.assertEqual('1', device[4])

    def test_running_server_with_the_controller_model(self):
        server = self._stop_server(self.server)
        self.add(server, 'ehci')
        server = self._start_server(server)
        self.attach(server, self.key1, controller_model='ehci')
        device = list(helpers.hostdevs(self.live_xml(server)).values())[0]
        self.assertEqual(('1', '1'), device[4:])

    def test_stopped_server_beyond_its_ports_gets_a_hub(self):
        server = self._stop_server(self.server)
        for device_id in self.dongles:
            self.attach(server, device_id)
        server = self._start_server(server)
        self.assertEqual(4, len(helpers.hostdevs(self.live_xml(server))))
        hubs = etree.fromstring(self.live_xml(server)).findall(
            "devices/hub[@type='usb']")
        self.assertEqual(1, len(hubs))
