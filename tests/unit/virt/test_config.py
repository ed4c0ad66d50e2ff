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

from lxml import etree
from oslotest import base

from nova_usb import exception
from nova_usb.virt import config


def _hostdev(**fields):
    hostdev = config.LibvirtConfigGuestUSBHostdev()
    for name, value in fields.items():
        setattr(hostdev, name, value)
    return hostdev


def canonical(xml):
    """XML compared by structure: no whitespace, attributes in order."""
    parser = etree.XMLParser(remove_blank_text=True)
    return etree.tostring(etree.fromstring(xml, parser), method='c14n2',
                          strip_text=True)


class USBHostdevTestCase(base.BaseTestCase):

    def assertXmlEqual(self, expected, actual):
        self.assertEqual(canonical(expected), canonical(actual))

    def test_full_device(self):
        hostdev = _hostdev(
            vendor_id='1050', product_id='0407', host_bus=3, host_device=12,
            startup_policy='optional', alias='ua-usb-0123',
            address=config.LibvirtConfigGuestUSBAddress(bus=1, port='2.3'))
        self.assertXmlEqual("""
            <hostdev mode="subsystem" type="usb">
              <source startupPolicy="optional">
                <vendor id="0x1050"/>
                <product id="0x0407"/>
                <address bus="3" device="12"/>
              </source>
              <alias name="ua-usb-0123"/>
              <address type="usb" bus="1" port="2.3"/>
            </hostdev>""", hostdev.to_xml())

    def test_vendor_product_only(self):
        hostdev = _hostdev(vendor_id=0x627, product_id='0x1')
        self.assertXmlEqual("""
            <hostdev mode="subsystem" type="usb">
              <source>
                <vendor id="0x0627"/>
                <product id="0x0001"/>
              </source>
            </hostdev>""", hostdev.to_xml())

    def test_host_address_only(self):
        self.assertXmlEqual("""
            <hostdev mode="subsystem" type="usb">
              <source><address bus="1" device="2"/></source>
            </hostdev>""", _hostdev(host_bus=1, host_device=2).to_xml())

    def test_round_trip(self):
        original = _hostdev(
            vendor_id='04a9', product_id='31c0', host_bus=1, host_device=11,
            startup_policy='requisite', alias='ua-cam',
            address=config.LibvirtConfigGuestUSBAddress(bus=0, port='1'))
        parsed = config.LibvirtConfigGuestUSBHostdev()
        parsed.parse_str(original.to_xml())
        self.assertEqual(('04a9', '31c0', 1, 11, 'requisite', 'ua-cam'),
                         (parsed.vendor_id, parsed.product_id,
                          parsed.host_bus, parsed.host_device,
                          parsed.startup_policy, parsed.alias))
        self.assertEqual((0, '1'), (parsed.address.bus, parsed.address.port))
        self.assertXmlEqual(original.to_xml(), parsed.to_xml())

    def test_canonical_form_tells_xml_apart(self):
        """The comparison used here is able to fail."""
        self.assertNotEqual(canonical('<a b="1"/>'), canonical('<a b="2"/>'))
        self.assertEqual(canonical('<a c="1" b="2">\n <d/></a>'),
                         canonical('<a b="2" c="1"><d/></a>'))

    def test_parses_libvirt_output(self):
        # What libvirt's XMLDesc returns for a hot-plugged device.
        parsed = config.LibvirtConfigGuestUSBHostdev()
        parsed.parse_str("""
            <hostdev mode='subsystem' type='usb' managed='no'>
              <source startupPolicy='optional'>
                <vendor id='0x1050'/>
                <product id='0x0407'/>
                <address bus='1' device='5'/>
              </source>
              <alias name='hostdev0'/>
              <address type='usb' bus='0' port='1'/>
            </hostdev>""")
        self.assertEqual(('1050', '0407', 1, 5, 'hostdev0', 0, '1'),
                         (parsed.vendor_id, parsed.product_id,
                          parsed.host_bus, parsed.host_device, parsed.alias,
                          parsed.address.bus, parsed.address.port))

    def test_refuses_other_hostdevs(self):
        parsed = config.LibvirtConfigGuestUSBHostdev()
        self.assertRaises(
            exception.InvalidUsbXml, parsed.parse_str,
            "<hostdev mode='subsystem' type='pci'><source/></hostdev>")

    def assertRefused(self, hostdev, fragment):
        error = self.assertRaises(exception.InvalidUsbXml, hostdev.to_xml)
        self.assertIn(fragment, str(error))

    def test_incomplete_devices_are_refused(self):
        self.assertRefused(_hostdev(), 'needs vendor and product')
        self.assertRefused(_hostdev(vendor_id='1050'), 'go together')
        self.assertRefused(_hostdev(host_bus=1), 'go together')

    def test_no_input_can_inject_xml(self):
        evil = "1050'/><hostdev mode='subsystem' type='pci'"
        base_fields = dict(vendor_id='1050', product_id='0407')
        cases = [
            (dict(vendor_id=evil, product_id='0407'), 'vendor id'),
            (dict(base_fields, product_id=evil), 'product id'),
            (dict(base_fields, alias=evil), 'alias'),
            (dict(base_fields, alias='hostdev0'), 'alias'),
            (dict(base_fields, startup_policy=evil), 'startupPolicy'),
            (dict(base_fields, host_bus=evil, host_device=1), 'host bus'),
            (dict(base_fields, host_bus=1, host_device=0), 'host device'),
            (dict(base_fields, vendor_id=0x10000), 'out of range'),
            (dict(base_fields, address=config.LibvirtConfigGuestUSBAddress(
                bus=0, port=evil)), 'USB port'),
            (dict(base_fields, address=config.LibvirtConfigGuestUSBAddress(
                bus=evil, port='1')), 'USB bus'),
        ]
        for fields, fragment in cases:
            self.assertRefused(_hostdev(**fields), fragment)


class USBControllerTestCase(base.BaseTestCase):

    def test_format_and_parse(self):
        controller = config.LibvirtConfigGuestUSBController(
            index=1, model='qemu-xhci', ports=8)
        self.assertEqual(canonical(
            '<controller type="usb" index="1" model="qemu-xhci" '
            'ports="8"/>'), canonical(controller.to_xml()))
        parsed = config.LibvirtConfigGuestUSBController()
        parsed.parse_str(controller.to_xml())
        self.assertEqual((1, 'qemu-xhci', 8),
                         (parsed.index, parsed.model, parsed.ports))

    def test_without_ports(self):
        controller = config.LibvirtConfigGuestUSBController(index=0,
                                                            model='ehci')
        self.assertEqual(canonical(
            '<controller type="usb" index="0" model="ehci"/>'),
            canonical(controller.to_xml()))

    def test_refuses_bad_values(self):
        for fields, fragment in [
                (dict(index=-1), 'controller index'),
                (dict(index='1"/><x'), 'controller index'),
                (dict(index=0, model='Qemu xhci'), 'model'),
                (dict(index=0, model='qemu-xhci', ports=16), 'ports'),
                (dict(index=0, model='qemu-xhci', ports=0), 'ports')]:
            controller = config.LibvirtConfigGuestUSBController(**fields)
            error = self.assertRaises(exception.InvalidUsbXml,
                                      controller.to_xml)
            self.assertIn(fragment, str(error))

    def test_refuses_other_controllers(self):
        parsed = config.LibvirtConfigGuestUSBController()
        self.assertRaises(exception.InvalidUsbXml, parsed.parse_str,
                          "<controller type='pci' index='0'/>")
