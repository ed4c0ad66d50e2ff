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

"""The USB XML nova-usb writes, against libvirt's schema and libvirtd.

The unit tests compare the XML with what we think libvirt wants; these ask
libvirt. Every element the config classes write is validated inside a full
domain with ``virt-xml-validate`` (libvirt's own RNG schema), then fed to
a real libvirtd: cold attach, read back, parse, and the failures nova-usb
must expect and survive (controller hot plug, duplicate index, a host
device that is not there), including that a failed attach changes nothing.
"""

import os
import shutil
import subprocess

import fixtures
import libvirt
from lxml import etree
from nova_usbclient import controller_models

from nova_usb import exception
from nova_usb.virt import config
from nova_usb.virt import controllers
from nova_usb.virt import ports
from tests.integration import libvirtd

LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = libvirt.VIR_DOMAIN_AFFECT_CONFIG
# No such device exists anywhere; this kernel has no USB subsystem at all.
MADE_UP = dict(vendor_id='f1d0', product_id='beef')


def canonical(text):
    """XML with layout whitespace dropped and attributes in order."""
    parser = etree.XMLParser(remove_blank_text=True)
    return etree.tostring(etree.fromstring(text, parser), method='c14n')


def hostdev(**fields):
    device = config.LibvirtConfigGuestUSBHostdev()
    for name, value in fields.items():
        setattr(device, name, value)
    return device


def guest_address(bus, port):
    return config.LibvirtConfigGuestUSBAddress(bus=bus, port=port)


def usb_controller(index, model, ports_count=None):
    return config.LibvirtConfigGuestUSBController(
        index=index, model=model, ports=ports_count)


def hostdev_cases():
    both = dict(vendor_id='1050', product_id='0407', host_bus=3,
                host_device=12)
    cases = {
        'vendor and product': dict(vendor_id='1050', product_id='0407'),
        'vendor and product as ints': dict(vendor_id=0xffff, product_id=0),
        'host address': dict(host_bus=1, host_device=2),
        'host address limits': dict(host_bus=255, host_device=255),
        'lowest host address': dict(host_bus=0, host_device=1),
        'both': both,
        'alias': dict(both, alias='ua-usb-' + 'x' * 53),
        'guest root port': dict(both, address=guest_address(0, '1')),
        'guest hub port': dict(both, address=guest_address(3, '1.2.3')),
        'deepest guest port': dict(both, address=guest_address(
            255, '99.99.99.99')),
        'guest bus only': dict(both, address=guest_address(1, None)),
        'everything': dict(both, startup_policy='optional',
                           alias='ua-usb-1', address=guest_address(1, '2')),
    }
    for policy in config.STARTUP_POLICIES:
        cases['startupPolicy %s' % policy] = dict(
            vendor_id='1050', product_id='0407', startup_policy=policy)
    return cases


def controller_cases():
    cases = {}
    for model in controller_models.ADDABLE_MODELS:
        cases['%s without ports' % model] = (model, None)
        if controller_models.CONTROLLER_PORTS[model] is None:
            for count in (1, controller_models.XHCI_MAX_PORTS):
                cases['%s ports=%d' % (model, count)] = (model, count)
        else:
            fixed = controller_models.CONTROLLER_PORTS[model]
            cases['%s ports=%d' % (model, fixed)] = (model, fixed)
    return cases


class SchemaTestCase(libvirtd.TestCase):
    """virt-xml-validate accepts every element the classes can write."""

    def setUp(self):
        super().setUp()
        self.validator = shutil.which('virt-xml-validate')
        self.assertIsNotNone(
            self.validator, 'virt-xml-validate is missing (Debian: '
            'libvirt-clients); it comes with libvirt, so this is a broken '
            'install, not a machine without libvirt')
        self.tempdir = self.useFixture(fixtures.TempDir()).path

    def validate(self, name, *devices):
        """(returncode, report) of validating a domain holding devices.

        ``devices`` are config objects or lxml elements.
        """
        elements = [d if etree.iselement(d) else d.format_dom()
                    for d in devices]
        document = libvirtd.domain_xml('validate', self.domain_type,
                                       devices=elements)
        path = os.path.join(self.tempdir, 'domain.xml')
        with open(path, 'w') as output:
            output.write(document)
        result = subprocess.run(
            [self.validator, path, 'domain'], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        report = '%s: %s\n%s' % (name, result.stdout, document)
        return result.returncode, report

    def assertAllValid(self, cases):
        failures = []
        for name, elements in cases:
            returncode, output = self.validate(name, *elements)
            if returncode != 0:
                failures.append(output)
        self.assertEqual([], failures)

    def test_validator_rejects_invalid_xml(self):
        """The check is real: a hostdev libvirt's schema forbids fails."""
        element = hostdev(**MADE_UP).format_dom()
        element.find('source').set('startupPolicy', 'sometimes')
        returncode, output = self.validate('bad startupPolicy', element)
        self.assertEqual(3, returncode, output)
        deep = hostdev(**MADE_UP).format_dom()
        etree.SubElement(deep, 'address', type='usb', bus='0',
                         port='1.2.3.4.5')
        returncode, output = self.validate('five port levels', deep)
        self.assertEqual(3, returncode, output)

    def test_hostdevs(self):
        self.assertAllValid(
            (name, [usb_controller(0, 'qemu-xhci'), hostdev(**fields)])
            for name, fields in sorted(hostdev_cases().items()))

    def test_controllers(self):
        self.assertAllValid(
            (name, [usb_controller(1, model, count)])
            for name, (model, count) in sorted(controller_cases().items()))

    def test_classes_refuse_what_the_schema_refuses(self):
        """Addresses beyond libvirt's limits never reach the XML."""
        for address in (guest_address(0, '1.2.3.4.5'),
                        guest_address(256, '1')):
            self.assertRaises(exception.InvalidUsbXml,
                              hostdev(address=address, **MADE_UP).format_dom)


class ColdAttachTestCase(libvirtd.TestCase):
    """What nova-usb does to a stopped server, done to a real definition."""

    def setUp(self):
        super().setUp()
        self.dom = self.define_domain(
            [usb_controller(0, 'qemu-xhci', 4).format_dom()])

    def inactive_elements(self, path):
        return etree.fromstring(self.inactive_xml(self.dom)).findall(path)

    def test_hostdev_round_trip(self):
        """Cold attach a device that is not there (startupPolicy optional:
        the guest would boot without it), read libvirt's XML back, parse.
        """
        device = hostdev(startup_policy='optional', alias='ua-usb-cold',
                         **MADE_UP)
        self.dom.attachDeviceFlags(device.to_xml(), CONFIG)
        found = self.inactive_elements("devices/hostdev[@type='usb']")
        self.assertEqual(1, len(found))
        parsed = config.LibvirtConfigGuestUSBHostdev()
        parsed.parse_dom(found[0])
        self.assertEqual(
            ('f1d0', 'beef', None, None, 'optional', 'ua-usb-cold'),
            (parsed.vendor_id, parsed.product_id, parsed.host_bus,
             parsed.host_device, parsed.startup_policy, parsed.alias))
        # libvirt chose the first port, as the port model says it would.
        self.assertEqual((0, '1'), (parsed.address.bus, parsed.address.port))
        # Written again, it is the element libvirt holds, but for the
        # managed='no' libvirt adds.
        self.assertEqual('no', found[0].attrib.pop('managed'))
        self.assertEqual(canonical(etree.tostring(found[0])),
                         canonical(parsed.to_xml()))

    def test_hostdev_by_host_address_round_trip(self):
        device = hostdev(host_bus=1, host_device=7,
                         address=guest_address(0, '3'))
        self.dom.attachDeviceFlags(device.to_xml(), CONFIG)
        found = self.inactive_elements("devices/hostdev[@type='usb']")
        parsed = config.LibvirtConfigGuestUSBHostdev()
        parsed.parse_dom(found[0])
        self.assertEqual((None, None, 1, 7, None, (0, '3')),
                         (parsed.vendor_id, parsed.product_id,
                          parsed.host_bus, parsed.host_device,
                          parsed.startup_policy,
                          (parsed.address.bus, parsed.address.port)))

    def test_duplicate_hostdev_refused(self):
        device = hostdev(startup_policy='optional', **MADE_UP).to_xml()
        self.dom.attachDeviceFlags(device, CONFIG)
        before = self.inactive_xml(self.dom)
        error = self.assertRaises(libvirt.libvirtError,
                                  self.dom.attachDeviceFlags, device, CONFIG)
        self.assertIn('device is already in the domain configuration',
                      str(error))
        self.assertEqual(before, self.inactive_xml(self.dom))

    def test_controller_cold_add_and_duplicate_index(self):
        added = usb_controller(1, 'qemu-xhci', 3)
        self.dom.attachDeviceFlags(added.to_xml(), CONFIG)
        found = [c for c in self.inactive_elements(
            "devices/controller[@type='usb']") if c.get('index') == '1']
        self.assertEqual(1, len(found))
        parsed = config.LibvirtConfigGuestUSBController()
        parsed.parse_dom(found[0])
        self.assertEqual((1, 'qemu-xhci', 3),
                         (parsed.index, parsed.model, parsed.ports))
        topology = ports.topology_from_xml(self.inactive_xml(self.dom))
        self.assertEqual([(0, 4), (1, 3)],
                         [(c.index, c.ports) for c in topology.controllers])

        before = self.inactive_xml(self.dom)
        error = self.assertRaises(
            libvirt.libvirtError, self.dom.attachDeviceFlags,
            usb_controller(1, 'ehci').to_xml(), CONFIG)
        self.assertIn("controller index='1' already exists", str(error))
        self.assertEqual(libvirt.VIR_ERR_OPERATION_INVALID,
                         error.get_error_code())
        self.assertEqual(before, self.inactive_xml(self.dom))

    def test_every_addable_model_cold_adds_and_starts(self):
        """What ADDABLE_MODELS offers must give a guest that starts: every
        model, cold added as written without a ports attribute.
        """
        for index, model in enumerate(controller_models.ADDABLE_MODELS,
                                      start=1):
            self.dom.attachDeviceFlags(
                usb_controller(index, model).to_xml(), CONFIG)
        self.dom.create()
        live = ports.topology_from_xml(self.live_xml(self.dom))
        self.assertEqual(
            [(0, 'qemu-xhci', 4)] + [
                (index, model, controllers.controller_ports(model))
                for index, model in enumerate(controller_models.ADDABLE_MODELS,
                                              start=1)],
            [(c.index, c.model, c.ports) for c in live.controllers])

    def test_ports_attribute_only_for_xhci(self):
        """libvirt takes ``ports`` only on xHCI controllers at start; on a
        fixed-port model, even its own port count stops the guest.
        """
        self.dom.attachDeviceFlags(
            usb_controller(1, 'nec-xhci',
                           controller_models.XHCI_MAX_PORTS).to_xml(),
            CONFIG)
        self.dom.create()
        live = ports.topology_from_xml(self.live_xml(self.dom))
        self.assertEqual([(0, 4), (1, controller_models.XHCI_MAX_PORTS)],
                         [(c.index, c.ports) for c in live.controllers])
        failures = []
        for model in controller_models.ADDABLE_MODELS:
            count = controller_models.CONTROLLER_PORTS[model]
            if count is None:
                continue
            dom = self.define_domain([usb_controller(0, model, count)
                                      .format_dom()])
            try:
                dom.create()
                failures.append('%s ports=%d started' % (model, count))
            except libvirt.libvirtError as error:
                if "doesn't support 'ports'" not in str(error):
                    failures.append('%s: %s' % (model, error))
        self.assertEqual([], failures)


class LiveAttachTestCase(libvirtd.TestCase):
    """What nova-usb does to a running server, and how it fails here."""

    def setUp(self):
        super().setUp()
        self.dom = self.define_domain(
            [usb_controller(0, 'qemu-xhci', 4).format_dom()], start=True)

    def snapshot(self):
        return self.live_xml(self.dom), self.inactive_xml(self.dom)

    def test_controller_cannot_be_hot_plugged(self):
        before = self.snapshot()
        for flags in (LIVE, LIVE | CONFIG):
            error = self.assertRaises(
                libvirt.libvirtError, self.dom.attachDeviceFlags,
                usb_controller(1, 'qemu-xhci', 3).to_xml(), flags)
            self.assertIn("Operation not supported: 'usb' controller "
                          "cannot be hot plugged.", str(error))
            self.assertEqual(libvirt.VIR_ERR_OPERATION_UNSUPPORTED,
                             error.get_error_code())
            self.assertEqual(before, self.snapshot())

    def test_missing_host_device_changes_nothing(self):
        """A host device that does not exist cannot be attached, and the
        failed attach leaves both the live and the inactive XML exactly
        as they were (so nova-usb has nothing to roll back).
        """
        before = self.snapshot()
        devices = [hostdev(**MADE_UP),
                   hostdev(startup_policy='optional', **MADE_UP),
                   hostdev(host_bus=1, host_device=2),
                   hostdev(address=guest_address(0, '1'), **MADE_UP)]
        for device in devices:
            for flags in (LIVE, LIVE | CONFIG):
                self.assertRaises(libvirt.libvirtError,
                                  self.dom.attachDeviceFlags,
                                  device.to_xml(), flags)
                self.assertEqual(before, self.snapshot())
        self.assertEqual(
            [], etree.fromstring(before[0]).findall('devices/hostdev'))
