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

"""The port model against libvirt's own USB address allocator.

nova-usb decides from :mod:`nova_usb.virt.ports` which port a device will
get and whether a server has a free port at all. Emulated USB tablets and
keyboards take ports exactly like host devices and, unlike host devices,
really hot plug on this machine, so they stand in for them: before each
plug the model predicts, then libvirt places the device without being told
where, and the two must agree port for port, including "No free USB ports".
"""

import os
import shutil
import tempfile

import libvirt
from lxml import etree
from nova_usbclient import controller_models

from nova_usb.virt import ports
from tests.integration import libvirtd

LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = libvirt.VIR_DOMAIN_AFFECT_CONFIG
NO_FREE_PORTS = 'No free USB ports'


def controller(index, model=None, ports_count=None):
    element = etree.Element('controller', type='usb', index=str(index))
    if model is not None:
        element.set('model', model)
    if ports_count is not None:
        element.set('ports', str(ports_count))
    return element


def usb_device(tag, kind, alias=None, bus=None, port=None):
    """<input type=kind bus='usb'> or <hub type='usb'>, maybe placed."""
    if tag == 'input':
        element = etree.Element('input', type=kind, bus='usb')
    else:
        element = etree.Element(tag, type=kind)
    if alias is not None:
        etree.SubElement(element, 'alias', name=alias)
    if bus is not None:
        etree.SubElement(element, 'address', type='usb', bus=str(bus),
                         port=port)
    return element


def tablet(alias=None, bus=None, port=None):
    return usb_device('input', 'tablet', alias, bus, port)


def hub(bus=None, port=None):
    return usb_device('hub', 'usb', None, bus, port)


def xml(element):
    return etree.tostring(element, encoding='unicode')


def element_by_alias(domain_xml, alias):
    root = etree.fromstring(domain_xml)
    found = root.xpath('devices/*[alias/@name=$alias]', alias=alias)
    return found[0] if found else None


class HotPlugPlacementTestCase(libvirtd.TestCase):
    """Live XML in, predicted port out, checked against libvirt's choice."""

    def fill(self, dom, expected):
        """Hot plug inputs until libvirt says the guest is full.

        Each device goes in without an address; libvirt must put it where
        next_free_port() said, the sequence must be ``expected``, and when
        the model says None the plug must fail with "No free USB ports" and
        change nothing.
        """
        placed = []
        for step in range(len(expected) + 1):
            before = self.live_xml(dom)
            predicted = ports.topology_from_xml(before).next_free_port()
            alias = 'ua-fill%d' % step
            kind = 'tablet' if step % 2 == 0 else 'keyboard'
            device = xml(usb_device('input', kind, alias))
            if predicted is None:
                error = self.assertRaises(libvirt.libvirtError,
                                          dom.attachDeviceFlags, device,
                                          LIVE)
                self.assertIn(NO_FREE_PORTS, str(error))
                self.assertEqual(before, self.live_xml(dom))
                break
            dom.attachDeviceFlags(device, LIVE)
            after = libvirtd.usb_addresses(self.live_xml(dom))
            self.assertEqual(predicted, after[alias],
                             'model and libvirt disagree after %s' % placed)
            placed.append(predicted)
        self.assertEqual(expected, placed)

    def root_ports(self, count, bus=0):
        return [(bus, str(n)) for n in range(1, count + 1)]

    def hub_ports(self, hub_port, bus=0, skip=()):
        return [(bus, '%s.%d' % (hub_port, n)) for n in range(1, 9)
                if n not in skip]

    def test_qemu_xhci_2_ports(self):
        dom = self.start_domain([controller(0, 'qemu-xhci', 2)])
        self.fill(dom, self.root_ports(2))

    def test_qemu_xhci_4_ports(self):
        dom = self.start_domain([controller(0, 'qemu-xhci', 4)])
        self.fill(dom, self.root_ports(4))

    def test_qemu_xhci_15_ports(self):
        dom = self.start_domain([controller(0, 'qemu-xhci', 15)])
        self.fill(dom, self.root_ports(15))

    def test_nec_xhci_default_ports(self):
        """Without a ports attribute an xHCI controller has 4."""
        dom = self.start_domain([controller(0, 'nec-xhci')])
        self.fill(dom, self.root_ports(controller_models.XHCI_DEFAULT_PORTS))

    def test_ehci(self):
        dom = self.start_domain([controller(0, 'ehci')])
        self.fill(dom, self.root_ports(6))

    def test_piix3_uhci(self):
        dom = self.start_domain([controller(0, 'piix3-uhci')])
        self.fill(dom, self.root_ports(2))

    def test_piix4_uhci(self):
        dom = self.start_domain([controller(0, 'piix4-uhci')])
        self.fill(dom, self.root_ports(2))

    def test_pci_ohci(self):
        dom = self.start_domain([controller(0, 'pci-ohci')])
        self.fill(dom, self.root_ports(3))

    def test_two_controllers(self):
        """Buses fill in index order, whatever the order in the XML."""
        dom = self.start_domain([controller(1, 'qemu-xhci', 3),
                                 controller(0, 'piix3-uhci')])
        self.fill(dom, self.root_ports(2) + self.root_ports(3, bus=1))

    def test_q35_ich9_companions(self):
        """ich9-uhci1..3 lend their ports to ich9-ehci1: 6 in all."""
        dom = self.start_domain(
            [controller(0, 'ich9-ehci1'), controller(0, 'ich9-uhci1'),
             controller(0, 'ich9-uhci2'), controller(0, 'ich9-uhci3')],
            machine='q35')
        self.fill(dom, self.root_ports(6))

    def test_q35_qemu_xhci(self):
        dom = self.start_domain([controller(0, 'qemu-xhci', 3)],
                                machine='q35')
        self.fill(dom, self.root_ports(3))

    def test_hub_without_address(self):
        """libvirt puts the hub on port 1; root port 2 goes before it."""
        dom = self.start_domain([controller(0, 'piix3-uhci'), hub()])
        self.fill(dom, [(0, '2')] + self.hub_ports('1'))

    def test_chained_hubs(self):
        """Depth first: a hub's own ports, then the hubs behind them."""
        dom = self.start_domain([
            controller(0, 'qemu-xhci', 2), hub(0, '1'), hub(0, '1.1'),
            hub(0, '2')])
        self.fill(dom, self.hub_ports('1', skip=(1,)) +
                  self.hub_ports('1.1') + self.hub_ports('2'))

    def test_gaps_left_by_placed_devices(self):
        """Devices defined at fixed ports leave gaps that fill first."""
        dom = self.start_domain([
            controller(0, 'qemu-xhci', 5), tablet('ua-fixed2', 0, '2'),
            tablet('ua-fixed4', 0, '4')])
        self.fill(dom, [(0, '1'), (0, '3'), (0, '5')])

    def test_other_usb_devices_take_ports(self):
        """A USB disk, sound card, CCID reader and usb-serial port each
        hold a port too, and the model must see every one of them.
        """
        # QEMU runs as another user: the test's own TMPDIR is private.
        directory = tempfile.mkdtemp(prefix='nova-usb-test-', dir='/var/tmp')
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        os.chmod(directory, 0o755)
        image = os.path.join(directory, 'disk.img')
        with open(image, 'wb') as data:
            data.truncate(1024 * 1024)
        disk = etree.Element('disk', type='file', device='disk')
        etree.SubElement(disk, 'driver', name='qemu', type='raw')
        etree.SubElement(disk, 'source', file=image)
        etree.SubElement(disk, 'target', dev='sda', bus='usb')
        serial = etree.Element('serial', type='null')
        etree.SubElement(serial, 'target', type='usb-serial')
        dom = self.start_domain([
            controller(0, 'qemu-xhci', 6), disk,
            etree.Element('sound', model='usb'),
            etree.Element('controller', type='ccid', index='0'), serial])
        taken = libvirtd.usb_addresses(self.live_xml(dom))
        self.assertEqual(4, len(taken), taken)
        topology = ports.topology_from_xml(self.live_xml(dom))
        self.assertEqual({'disk', 'sound', 'ccid', 'serial'},
                         {u.kind for u in topology.used})
        self.fill(dom, sorted(set(self.root_ports(6)) - set(taken.values())))


class RequestedControllerTestCase(libvirtd.TestCase):
    """A device asked for on a given controller model goes where the model
    says when nova-usb writes that address explicitly.
    """

    def setUp(self):
        super().setUp()
        self.dom = self.start_domain([controller(0, 'piix3-uhci'),
                                      controller(1, 'qemu-xhci', 3)])

    def topology(self):
        return ports.topology_from_xml(self.live_xml(self.dom))

    def attach_at(self, alias, address):
        bus, port = address
        self.dom.attachDeviceFlags(xml(tablet(alias, bus, port)), LIVE)
        placed = libvirtd.usb_addresses(self.live_xml(self.dom))
        self.assertEqual(address, placed[alias])

    def test_explicit_address_per_model(self):
        first_xhci = self.topology().next_free_port('qemu-xhci')
        self.assertEqual((1, '1'), first_xhci)
        self.attach_at('ua-x1', first_xhci)
        first_uhci = self.topology().next_free_port('piix3-uhci')
        self.assertEqual((0, '1'), first_uhci)
        self.attach_at('ua-u1', first_uhci)
        # The other xHCI ports, as the model hands them out.
        for n in (2, 3):
            port = self.topology().next_free_port('qemu-xhci')
            self.assertEqual((1, str(n)), port)
            self.attach_at('ua-x%d' % n, port)
        self.assertIsNone(self.topology().next_free_port('qemu-xhci'))
        # The xHCI bus is full but any model still has root port 0.2, and
        # libvirt agrees when it picks the port itself.
        anywhere = self.topology().next_free_port()
        self.assertEqual((0, '2'), anywhere)
        self.dom.attachDeviceFlags(xml(tablet('ua-any')), LIVE)
        self.assertEqual(anywhere, libvirtd.usb_addresses(
            self.live_xml(self.dom))['ua-any'])

    def test_taken_and_missing_addresses_are_refused(self):
        """What the model calls used or absent, libvirt refuses too."""
        self.attach_at('ua-x1', (1, '1'))
        topology = self.topology()
        self.assertNotIn((1, '1'), topology.free_ports())
        error = self.assertRaises(
            libvirt.libvirtError, self.dom.attachDeviceFlags,
            xml(tablet('ua-dup', 1, '1')), LIVE)
        self.assertIn('Duplicate USB address bus 1 port 1', str(error))
        self.assertNotIn((1, '4'), topology.free_ports())
        error = self.assertRaises(
            libvirt.libvirtError, self.dom.attachDeviceFlags,
            xml(tablet('ua-p4', 1, '4')), LIVE)
        self.assertIn('requested USB port 4 not present on USB bus 1',
                      str(error))
        self.assertEqual([], topology.free_ports('ehci'))
        error = self.assertRaises(
            libvirt.libvirtError, self.dom.attachDeviceFlags,
            xml(tablet('ua-b2', 2, '1')), LIVE)
        self.assertIn('Missing USB bus 2', str(error))


class DetachTestCase(libvirtd.TestCase):
    """A port freed by a live detach is offered again, and used first."""

    def detach(self, dom, alias):
        element = element_by_alias(self.live_xml(dom), alias)
        dom.detachDeviceFlags(xml(element), LIVE)
        # QEMU finishes a USB unplug asynchronously.
        self.wait_for(
            lambda: element_by_alias(self.live_xml(dom), alias) is None,
            what='%s gone from the live XML' % alias)

    def test_detached_port_is_free_again(self):
        dom = self.start_domain([controller(0, 'qemu-xhci', 3)])
        for n in (1, 2, 3):
            dom.attachDeviceFlags(xml(tablet('ua-t%d' % n)), LIVE)
        self.assertIsNone(
            ports.topology_from_xml(self.live_xml(dom)).next_free_port())
        self.detach(dom, 'ua-t2')
        topology = ports.topology_from_xml(self.live_xml(dom))
        self.assertEqual([(0, '2')], topology.free_ports())
        self.assertEqual((0, '2'), topology.next_free_port())
        dom.attachDeviceFlags(xml(tablet('ua-again')), LIVE)
        self.assertEqual((0, '2'), libvirtd.usb_addresses(
            self.live_xml(dom))['ua-again'])

    def test_detach_from_hub_port(self):
        dom = self.start_domain([controller(0, 'piix3-uhci'), hub(0, '1'),
                                 tablet('ua-root2', 0, '2')])
        for n in (1, 2, 3):
            dom.attachDeviceFlags(xml(tablet('ua-h%d' % n)), LIVE)
        self.assertEqual((0, '1.2'), libvirtd.usb_addresses(
            self.live_xml(dom))['ua-h2'])
        self.detach(dom, 'ua-h2')
        self.detach(dom, 'ua-root2')
        topology = ports.topology_from_xml(self.live_xml(dom))
        self.assertEqual((0, '2'), topology.next_free_port())
        self.assertEqual([(0, '2'), (0, '1.2')], topology.free_ports()[:2])
        for alias, expected in (('ua-n1', (0, '2')), ('ua-n2', (0, '1.2')),
                                ('ua-n3', (0, '1.4'))):
            dom.attachDeviceFlags(xml(tablet(alias)), LIVE)
            self.assertEqual(expected, libvirtd.usb_addresses(
                self.live_xml(dom))[alias])


class InactiveDefinitionTestCase(libvirtd.TestCase):
    """What libvirt does with USB addresses of a stopped domain.

    nova-usb adds devices to stopped servers with AFFECT_CONFIG and reads
    their inactive XML, so the model must hold there too.
    """

    def test_define_assigns_addresses(self):
        """libvirt gives every USB device its port at define time, not at
        start: the inactive XML has addresses, nothing is unaddressed.
        """
        dom = self.define_domain([controller(0, 'qemu-xhci', 3),
                                  tablet('ua-a'), tablet('ua-b')])
        inactive = self.inactive_xml(dom)
        self.assertEqual({'ua-a': (0, '1'), 'ua-b': (0, '2')},
                         libvirtd.usb_addresses(inactive))
        self.assertEqual((), ports.topology_from_xml(inactive).unaddressed)
        dom.create()
        self.assertEqual({'ua-a': (0, '1'), 'ua-b': (0, '2')},
                         libvirtd.usb_addresses(self.live_xml(dom)))

    def test_model_on_xml_before_define(self):
        """On XML libvirt has not seen (as Nova writes it), devices without
        an address take the first free ports; the next one goes after.
        """
        devices = [controller(0, 'qemu-xhci', 4), tablet('ua-fixed', 0, '2'),
                   tablet('ua-a'), tablet('ua-b')]
        before = libvirtd.domain_xml('d', self.domain_type, 'pc', devices)
        topology = ports.topology_from_xml(before)
        self.assertEqual(('input', 'input'), topology.unaddressed)
        predicted = topology.next_free_port()
        self.assertEqual((0, '4'), predicted)
        dom = self.define_domain(devices)
        dom.attachDeviceFlags(xml(tablet('ua-next')), CONFIG)
        self.assertEqual(
            {'ua-fixed': (0, '2'), 'ua-a': (0, '1'), 'ua-b': (0, '3'),
             'ua-next': predicted},
            libvirtd.usb_addresses(self.inactive_xml(dom)))

    def test_cold_attach_follows_model(self):
        """AFFECT_CONFIG places devices like a hot plug does, and refuses
        with the same error when the definition is full (no hub added).
        """
        dom = self.define_domain([controller(0, 'qemu-xhci', 3),
                                  tablet('ua-fixed', 0, '2')])
        placed = []
        for step in range(3):
            before = self.inactive_xml(dom)
            predicted = ports.topology_from_xml(before).next_free_port()
            alias = 'ua-cold%d' % step
            device = xml(tablet(alias))
            if predicted is None:
                error = self.assertRaises(libvirt.libvirtError,
                                          dom.attachDeviceFlags, device,
                                          CONFIG)
                self.assertIn(NO_FREE_PORTS, str(error))
                self.assertEqual(before, self.inactive_xml(dom))
                break
            dom.attachDeviceFlags(device, CONFIG)
            self.assertEqual(predicted, libvirtd.usb_addresses(
                self.inactive_xml(dom))[alias])
            placed.append(predicted)
        self.assertEqual([(0, '1'), (0, '3')], placed)

    def test_define_adds_a_hub_when_ports_run_out(self):
        """More USB devices than ports at define: libvirt adds one hub on
        port 1 by itself; after that the model reads the hub like any.
        """
        dom = self.define_domain([controller(0, 'qemu-xhci', 2),
                                  tablet('ua-a'), tablet('ua-b'),
                                  tablet('ua-c')])
        inactive = self.inactive_xml(dom)
        hubs = etree.fromstring(inactive).findall('devices/hub')
        self.assertEqual(1, len(hubs))
        self.assertEqual(
            {None: (0, '1'), 'ua-a': (0, '2'), 'ua-b': (0, '1.1'),
             'ua-c': (0, '1.2')},
            libvirtd.usb_addresses(inactive))
        self.assertEqual((0, '1.3'),
                         ports.topology_from_xml(inactive).next_free_port())
        dom.create()
        live = self.live_xml(dom)
        self.assertEqual(
            {'hub0': (0, '1'), 'ua-a': (0, '2'), 'ua-b': (0, '1.1'),
             'ua-c': (0, '1.2')},
            libvirtd.usb_addresses(live))
        predicted = ports.topology_from_xml(live).next_free_port()
        dom.attachDeviceFlags(xml(tablet('ua-d')), LIVE)
        self.assertEqual((0, '1.3'), predicted)
        self.assertEqual(predicted, libvirtd.usb_addresses(
            self.live_xml(dom))['ua-d'])

    def test_default_controller_models(self):
        """The model libvirt 9.0 fills in: a listed controller without a
        model is piix3-uhci on pc AND q35; with no USB controller listed
        at all, pc gets piix3-uhci and q35 qemu-xhci.
        """
        cases = [('pc', True, 'piix3-uhci'), ('q35', True, 'piix3-uhci'),
                 ('pc', False, 'piix3-uhci'), ('q35', False, 'qemu-xhci')]
        found = []
        for machine, listed, _model in cases:
            devices = [controller(0)] if listed else []
            dom = self.define_domain(devices + [tablet('ua-t')],
                                     machine=machine)
            topology = ports.topology_from_xml(self.inactive_xml(dom))
            found.append((machine, listed,
                          [c.model for c in topology.controllers]))
        self.assertEqual([(m, listed, [model]) for m, listed, model in cases],
                         found)
