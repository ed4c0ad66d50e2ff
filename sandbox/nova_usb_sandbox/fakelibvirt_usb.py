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

"""Nova's fakelibvirt, taught USB.

Nova's fakelibvirt (nova/tests/fixtures/libvirt.py) assumes every hostdev is
PCI: it drops USB host devices and USB controllers from a domain's XML and
fails on detaching them. UsbDomain keeps the USB elements of the live and the
persistent definition apart and answers as libvirt 9.0 does, with its exact
error messages (see doc/source/contributor/testing.rst):

* a USB controller cannot be hot-plugged;
* a live USB host device must exist on the host (looked up through real
  libudev, on the test's umockdev testbed) and must not be in use by
  another running domain;
* a live device takes the first free root port of the first controller
  that has one, or the port it names;
* a domain being defined gets USB hubs when its USB devices outnumber its
  ports; one starting drops host devices that are absent with
  startupPolicy='optional' and refuses to start otherwise;
* detaching what is not there is "device not found".

libvirtd itself cannot run under umockdev, which is why this stand-in
exists; tests/integration checks the same XML against a real libvirtd.
The functional tests and nova-usb-sandbox with recorded devices
(``--demo-devices``) both use it, so it ships in the package.
"""

import copy

from lxml import etree
from nova.tests.fixtures import libvirt as fakelibvirt
import pyudev

from nova_usb.virt import controllers
from nova_usb.virt import ports


def _error(message, code, domain=fakelibvirt.VIR_FROM_QEMU):
    return fakelibvirt.make_libvirtError(
        fakelibvirt.libvirtError, message, error_code=code,
        error_domain=domain)


def _is_usb(element):
    tag, kind = element.tag, element.get('type')
    return ((tag in ('controller', 'hostdev', 'hub') and kind == 'usb') or
            (tag == 'input' and element.get('bus') == 'usb'))


def _host_device(element):
    """(vendor, product, bus, device) of a <hostdev type='usb'>."""
    source = element.find('source')
    vendor = source.find('vendor')
    product = source.find('product')
    address = source.find('address')
    return (int(vendor.get('id'), 16) if vendor is not None else None,
            int(product.get('id'), 16) if product is not None else None,
            int(address.get('bus')) if address is not None else None,
            int(address.get('device')) if address is not None else None)


def _on_host(vendor, product, bus, device):
    """Whether the (umockdev) host has this USB device, by real libudev."""
    for udev in pyudev.Context().list_devices(subsystem='usb',
                                              DEVTYPE='usb_device'):
        attrs = udev.attributes
        try:
            found = (int(attrs.get('idVendor'), 16),
                     int(attrs.get('idProduct'), 16),
                     int(attrs.get('busnum')), int(attrs.get('devnum')))
        except (TypeError, ValueError):
            continue
        if ((vendor is None or found[0] == vendor) and
                (product is None or found[1] == product) and
                (bus is None or found[2:] == (bus, device))):
            return True
    return False


class UsbDomain(fakelibvirt.Domain):

    def __init__(self, connection, xml, running=False, transient=False):
        self._usb_config = [e for e in etree.fromstring(xml).iterfind(
            'devices/*') if _is_usb(e)]
        self._add_hubs(self._usb_config)
        self._usb_live = []
        super().__init__(connection, xml, running=running,
                         transient=transient)
        if running:
            self._start_usb()

    # Life of the domain

    def _usb_running(self):
        """Running or paused: a paused QEMU takes hot-plugs too."""
        return self._state in (fakelibvirt.VIR_DOMAIN_RUNNING,
                               fakelibvirt.VIR_DOMAIN_PAUSED)

    def createWithFlags(self, flags):
        self._start_usb()
        super().createWithFlags(flags)

    def destroy(self):
        super().destroy()
        self._usb_live = []

    def _start_usb(self):
        live = []
        for element in copy.deepcopy(self._usb_config):
            if element.tag == 'hostdev':
                self._check_not_in_use(element)
                if not _on_host(*_host_device(element)):
                    source = element.find('source')
                    if source.get('startupPolicy') == 'optional':
                        continue
                    raise _error('Did not find USB device %04x:%04x'
                                 % _host_device(element)[:2],
                                 fakelibvirt.VIR_ERR_INTERNAL_ERROR)
            live.append(element)
        # Hubs first, so that the devices behind them find their ports.
        for element in sorted(live, key=lambda e: e.tag != 'hub'):
            if element.tag != 'controller' and element.find(
                    'address') is None:
                self._give_port(live, element)
        self._usb_live = live

    def _add_hubs(self, elements):
        """Add USB hubs when the devices outnumber the ports.

        As libvirt does when a domain is defined (never on hot plug).
        """
        ports_count = sum(self._buses(elements).values())
        devices = [e for e in elements if e.tag != 'controller']
        missing = len(devices) - ports_count
        while missing > 0:
            elements.append(etree.Element('hub', type='usb'))
            missing -= controllers.HUB_PORTS - 1

    # Devices

    def attachDeviceFlags(self, xml, flags):
        element = etree.fromstring(xml)
        if not _is_usb(element):
            return super().attachDeviceFlags(xml, flags)
        live = flags & fakelibvirt.VIR_DOMAIN_AFFECT_LIVE
        config = flags & fakelibvirt.VIR_DOMAIN_AFFECT_CONFIG
        if live and not self._usb_running():
            raise _error('Requested operation is not valid: domain is not '
                         'running', fakelibvirt.VIR_ERR_OPERATION_INVALID,
                         fakelibvirt.VIR_FROM_DOMAIN)
        if element.tag == 'controller':
            if live:
                raise _error("Operation not supported: 'usb' controller "
                             "cannot be hot plugged.",
                             fakelibvirt.VIR_ERR_OPERATION_UNSUPPORTED)
            for existing in self._usb_config:
                if (existing.tag == 'controller' and
                        existing.get('index') == element.get('index')):
                    raise _error("controller index='%s' already exists"
                                 % element.get('index'),
                                 fakelibvirt.VIR_ERR_OPERATION_FAILED)
        if live:
            self._attach_live(element)
        if config:
            if element.tag == 'hostdev' and self._find(
                    self._usb_config, element) is not None:
                raise _error('device is already in the domain '
                             'configuration',
                             fakelibvirt.VIR_ERR_OPERATION_INVALID)
            self._usb_config.append(copy.deepcopy(element))

    def _attach_live(self, element):
        if element.tag == 'hostdev':
            if not _on_host(*_host_device(element)):
                raise _error('Did not find USB device %04x:%04x'
                             % _host_device(element)[:2],
                             fakelibvirt.VIR_ERR_INTERNAL_ERROR)
            self._check_not_in_use(element)
        live = self._usb_live + [element]
        if element.find('address') is None:
            self._give_port(live, element)
        else:
            self._check_address(live, element)
        self._usb_live = live

    def _check_not_in_use(self, element):
        wanted = _host_device(element)
        for domain in self._connection._running_vms.values():
            if domain is self or not isinstance(domain, UsbDomain):
                continue
            for other in domain._usb_live:
                if other.tag == 'hostdev' and (
                        _host_device(other)[2:] == wanted[2:]):
                    raise _error('USB device %03d:%03d is in use by driver '
                                 'QEMU, domain %s' % (wanted[2], wanted[3],
                                                      domain.name()),
                                 fakelibvirt.VIR_ERR_OPERATION_INVALID)

    @staticmethod
    def _topology(live, element=None):
        """The USB topology of ``live`` without ``element``, by nova-usb's
        own port model: the controllers, and the ports of the devices that
        have one already.
        """
        devices = etree.Element('devices')
        for other in live:
            if other is not element and (
                    other.tag == 'controller' or
                    other.find('address') is not None):
                devices.append(copy.deepcopy(other))
        domain = etree.Element('domain')
        domain.append(devices)
        return ports.topology_from_xml(etree.tostring(domain))

    @classmethod
    def _buses(cls, live):
        return {c.index: c.ports for c in cls._topology(live).controllers}

    def _give_port(self, live, element):
        """The first free port: root ports of each bus, then hub ports."""
        port = self._topology(live, element).next_free_port()
        if port is None:
            raise _error('internal error: No free USB ports',
                         fakelibvirt.VIR_ERR_INTERNAL_ERROR)
        etree.SubElement(element, 'address', type='usb', bus=str(port[0]),
                         port=port[1])

    def _check_address(self, live, element):
        address = element.find('address')
        bus, port = address.get('bus'), address.get('port')
        buses = self._buses(live)
        if int(bus) not in buses:
            raise _error('Missing USB bus %s' % bus,
                         fakelibvirt.VIR_ERR_XML_ERROR)
        if int(port.split('.')[0]) > buses[int(bus)]:
            raise _error('requested USB port %s not present on USB bus %s'
                         % (port, bus), fakelibvirt.VIR_ERR_XML_ERROR)
        if (int(bus), port) in {(u.bus, u.port) for u in
                                self._topology(live, element).used}:
            raise _error('Duplicate USB address bus %s port %s'
                         % (bus, port), fakelibvirt.VIR_ERR_XML_ERROR)

    @staticmethod
    def _find(elements, element):
        if element.tag != 'hostdev':
            for existing in elements:
                if (existing.tag == element.tag and
                        existing.get('index') == element.get('index')):
                    return existing
            return None
        wanted = _host_device(element)
        for existing in elements:
            if existing.tag != 'hostdev':
                continue
            found = _host_device(existing)
            if found[:2] == wanted[:2] and (
                    wanted[2] is None or found[2:] == wanted[2:]):
                return existing
        return None

    def detachDeviceFlags(self, xml, flags):
        element = etree.fromstring(xml)
        if not _is_usb(element):
            return super().detachDeviceFlags(xml, flags)
        places = []
        if flags & fakelibvirt.VIR_DOMAIN_AFFECT_LIVE:
            places.append(self._usb_live)
        if flags & fakelibvirt.VIR_DOMAIN_AFFECT_CONFIG:
            places.append(self._usb_config)
        for elements in places:
            existing = self._find(elements, element)
            if existing is None:
                vendor, product = _host_device(element)[:2]
                raise _error('device not found: host usb device '
                             'vendor=0x%04x product=0x%04x not found'
                             % (vendor, product),
                             fakelibvirt.VIR_ERR_DEVICE_MISSING)
            elements.remove(existing)

    # fakelibvirt's attachDeviceFlags and detachDeviceFlags call these two
    # for the devices it knows (disks, interfaces, PCI host devices).

    def detachDevice(self, xml):
        if not _is_usb(etree.fromstring(xml)):
            return super().detachDevice(xml)
        return self.detachDeviceFlags(
            xml, fakelibvirt.VIR_DOMAIN_AFFECT_LIVE)

    def attachDevice(self, xml):
        if not _is_usb(etree.fromstring(xml)):
            return super().attachDevice(xml)
        return self.attachDeviceFlags(
            xml, fakelibvirt.VIR_DOMAIN_AFFECT_LIVE)

    def XMLDesc(self, flags):
        root = etree.fromstring(super().XMLDesc(flags))
        devices = root.find('devices')
        for element in list(devices):
            if _is_usb(element):
                devices.remove(element)
        if self._usb_running() and not flags & (
                fakelibvirt.VIR_DOMAIN_XML_INACTIVE):
            usb = self._usb_live
        else:
            usb = self._usb_config
        for element in usb:
            devices.append(copy.deepcopy(element))
        return etree.tostring(root, encoding='unicode')
