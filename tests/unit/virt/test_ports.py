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

from nova_usbclient import controller_models
from oslotest import base

from nova_usb import exception
from nova_usb.virt import controllers
from nova_usb.virt import ports


def domain(*devices):
    return ('<domain type="kvm"><name>d</name><devices>%s</devices>'
            '</domain>' % ''.join(devices))


def controller(index, model, extra=''):
    return ('<controller type="usb" index="%d" model="%s" %s/>'
            % (index, model, extra))


def tablet(bus=None, port=None):
    address = ('' if bus is None else
               '<address type="usb" bus="%d" port="%s"/>' % (bus, port))
    return '<input type="tablet" bus="usb">%s</input>' % address


def hub(bus, port):
    return ('<hub type="usb"><address type="usb" bus="%d" port="%s"/>'
            '</hub>' % (bus, port))


class ControllerPortsTestCase(base.BaseTestCase):

    def test_fixed_models(self):
        self.assertEqual(2, controllers.controller_ports('piix3-uhci'))
        self.assertEqual(6, controllers.controller_ports('ehci'))
        self.assertEqual(3, controllers.controller_ports('pci-ohci'))

    def test_xhci_ports(self):
        self.assertEqual(4, controllers.controller_ports('qemu-xhci'))
        self.assertEqual(15, controllers.controller_ports('nec-xhci', 15))
        self.assertEqual(1, controllers.controller_ports('qemu-xhci', 1))

    def test_errors(self):
        error = self.assertRaises(exception.UnknownControllerModel,
                                  controllers.controller_ports, 'usb4')
        self.assertIn('qemu-xhci', str(error))
        self.assertEqual(400, error.code)
        self.assertRaises(exception.InvalidControllerPorts,
                          controllers.controller_ports, 'ehci', 4)
        # QEMU refuses a ports attribute on fixed models, even their own.
        self.assertRaises(exception.InvalidControllerPorts,
                          controllers.controller_ports, 'ehci', 6)
        self.assertRaises(exception.InvalidControllerPorts,
                          controllers.controller_ports, 'qemu-xhci', 16)
        self.assertRaises(exception.InvalidControllerPorts,
                          controllers.controller_ports, 'qemu-xhci', 0)

    def test_companions_cannot_be_added(self):
        self.assertNotIn('ich9-uhci1', controller_models.ADDABLE_MODELS)
        self.assertRaises(exception.UnknownControllerModel,
                          controllers.controller_ports, 'ich9-uhci1')
        self.assertIn('ich9-ehci1', controller_models.ADDABLE_MODELS)
        self.assertIn('qemu-xhci', controller_models.ADDABLE_MODELS)


class TopologyTestCase(base.BaseTestCase):

    def test_no_devices(self):
        topology = ports.topology_from_xml('<domain><name>d</name></domain>')
        self.assertEqual((), topology.controllers)
        self.assertIsNone(topology.next_free_port())

    def test_model_none_has_no_ports(self):
        topology = ports.topology_from_xml(domain(controller(0, 'none')))
        self.assertEqual((), topology.controllers)
        self.assertIsNone(topology.next_free_port())

    def test_controllers_and_used_ports(self):
        topology = ports.topology_from_xml(domain(
            controller(1, 'qemu-xhci', 'ports="8"'),
            controller(0, 'piix3-uhci'),
            tablet(0, '1'),
            '<hostdev mode="subsystem" type="usb"><source>'
            '<vendor id="0x1050"/><product id="0x0407"/></source>'
            '<address type="usb" bus="1" port="3"/></hostdev>',
            '<hostdev mode="subsystem" type="pci"><source><address '
            'domain="0" bus="0" slot="4" function="0"/></source></hostdev>',
            '<input type="mouse" bus="ps2"/>'))
        self.assertEqual(
            (ports.UsbController(0, 'piix3-uhci', 2),
             ports.UsbController(1, 'qemu-xhci', 8)), topology.controllers)
        self.assertEqual((ports.UsbPortUse(0, '1', 'input'),
                          ports.UsbPortUse(1, '3', 'hostdev')),
                         topology.used)
        self.assertEqual((0, '2'), topology.next_free_port())
        self.assertEqual((1, '1'), topology.next_free_port('qemu-xhci'))
        self.assertIsNone(topology.next_free_port('ehci'))

    def test_controller_without_model_is_libvirts_default(self):
        topology = ports.topology_from_xml(domain(
            '<controller type="usb" index="0"/>'))
        self.assertEqual((ports.UsbController(0, 'piix3-uhci', 2),),
                         topology.controllers)

    def test_xhci_default_ports(self):
        topology = ports.topology_from_xml(domain(
            controller(0, 'qemu-xhci')))
        self.assertEqual([(0, '1'), (0, '2'), (0, '3'), (0, '4')],
                         topology.free_ports())

    def test_full_bus(self):
        topology = ports.topology_from_xml(domain(
            controller(0, 'piix3-uhci'), tablet(0, '1'), tablet(0, '2')))
        self.assertIsNone(topology.next_free_port())

    def test_first_free_port_then_next_bus(self):
        topology = ports.topology_from_xml(domain(
            controller(0, 'piix3-uhci'), controller(1, 'ehci'),
            tablet(0, '2'), tablet(0, '1'), tablet(1, '1')))
        self.assertEqual((1, '2'), topology.next_free_port())

    def test_hub_ports_after_root_ports(self):
        topology = ports.topology_from_xml(domain(
            controller(0, 'piix3-uhci'), hub(0, '1')))
        self.assertEqual([(0, '2')] + [(0, '1.%d' % n) for n in range(1, 9)],
                         topology.free_ports())

    def test_nested_hub_is_walked_depth_first(self):
        topology = ports.topology_from_xml(domain(
            controller(0, 'piix3-uhci'), hub(0, '1'), tablet(0, '2'),
            hub(0, '1.1'),
            *[tablet(0, '1.%d' % n) for n in range(2, 9)]))
        self.assertEqual((0, '1.1.1'), topology.next_free_port())

    def test_all_kinds_of_usb_devices_take_ports(self):
        topology = ports.topology_from_xml(domain(
            controller(0, 'qemu-xhci', 'ports="15"'),
            '<redirdev bus="usb" type="spicevmc">'
            '<address type="usb" bus="0" port="1"/></redirdev>',
            '<disk type="file" device="disk"><target dev="sda" bus="usb"/>'
            '<address type="usb" bus="0" port="2"/></disk>',
            '<controller type="ccid" index="0">'
            '<address type="usb" bus="0" port="3"/></controller>',
            '<sound model="usb"><address type="usb" bus="0" port="4"/>'
            '</sound>',
            '<input type="keyboard" bus="usb">'
            '<address type="usb" bus="0" port="5"/></input>'))
        self.assertEqual(['redirdev', 'disk', 'ccid', 'sound', 'input'],
                         [u.kind for u in topology.used])
        self.assertEqual((0, '6'), topology.next_free_port())

    def test_unaddressed_devices_count_in_inactive_definitions(self):
        topology = ports.topology_from_xml(domain(
            controller(0, 'piix3-uhci'), controller(1, 'pci-ohci'),
            tablet(), tablet(), tablet()))
        self.assertEqual(('input', 'input', 'input'), topology.unaddressed)
        self.assertEqual((1, '2'), topology.next_free_port())
        self.assertEqual((1, '2'), topology.next_free_port('pci-ohci'))
        self.assertIsNone(topology.next_free_port('piix3-uhci'))
