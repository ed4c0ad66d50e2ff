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

"""libvirt XML of USB host devices and USB controllers.

In the style of :mod:`nova.virt.libvirt.config`: one class per element,
``format_dom()`` writes it and ``parse_dom()`` reads it back. This is the
only place in nova-usb where USB XML is built. Every value is checked
against what libvirt's schema allows before it is written, and lxml escapes
what it writes, so no input can inject XML.
"""

import re

from nova.virt.libvirt import config as nova_config

from nova_usb import exception

STARTUP_POLICIES = ('mandatory', 'requisite', 'optional')

# libvirt accepts user-chosen aliases only with this prefix and alphabet.
_ALIAS = re.compile(r'^ua-[A-Za-z0-9_-]{1,60}$')
_HEX4 = re.compile(r'^(0x)?[0-9a-fA-F]{1,4}$')
# A port of a root hub, then up to three levels of hubs: "1", "2.3.1".
# libvirt takes four levels at most: "1.2.3.4.5" fails its schema and its
# parser (VIR_DOMAIN_DEVICE_USB_MAX_PORT_DEPTH).
_USB_PORT = re.compile(r'^[1-9][0-9]?(\.[1-9][0-9]?){0,3}$')
_MODEL = re.compile(r'^[a-z0-9][a-z0-9-]{0,31}$')


def _invalid(reason):
    return exception.InvalidUsbXml(reason=reason)


def _hex4(name, value):
    """'0x1050' from 1050 (str), '0x1050' or 0x1050 (int)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _HEX4.match(value):
        number = int(value, 16)
    else:
        raise _invalid('%s must be 4 hexadecimal digits, not %r' % (
            name, value))
    if not 0 <= number <= 0xffff:
        raise _invalid('%s out of range: %r' % (name, value))
    return '0x%04x' % number


def _uint(name, value, minimum=0, maximum=0xffff):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _invalid('%s must be an integer, not %r' % (name, value))
    if isinstance(value, bool) or not minimum <= number <= maximum:
        raise _invalid('%s must be between %d and %d, not %r' % (
            name, minimum, maximum, value))
    return number


def _optional_uint(xmldoc, name):
    value = xmldoc.get(name)
    return None if value is None else int(value, 0)


class LibvirtConfigGuestUSBAddress(
        nova_config.LibvirtConfigGuestDeviceAddress):
    """<address type='usb' bus='0' port='1.2'/>: a port of the guest."""

    def __init__(self, bus=None, port=None, **kwargs):
        super().__init__(type='usb', **kwargs)
        self.bus = bus
        self.port = port

    def format_dom(self):
        xml = super().format_dom()
        if self.bus is not None:
            # A bus is a controller index; libvirt's schema allows no more.
            xml.set('bus', str(_uint('USB bus', self.bus, 0, 255)))
        if self.port is not None:
            if not _USB_PORT.match(str(self.port)):
                raise _invalid('USB port must look like "1" or "1.2", '
                               'not %r' % (self.port,))
            xml.set('port', str(self.port))
        return xml

    def parse_dom(self, xmldoc):
        self.bus = _optional_uint(xmldoc, 'bus')
        self.port = xmldoc.get('port')


class LibvirtConfigGuestUSBHostdev(nova_config.LibvirtConfigGuestDevice):
    """<hostdev mode='subsystem' type='usb'>: a host USB device.

    vendor/product name the device; the host bus/device address tells two
    identical devices apart (libvirt then requires both to match).
    """

    def __init__(self, **kwargs):
        super().__init__(root_name='hostdev', **kwargs)
        self.vendor_id = None
        self.product_id = None
        self.host_bus = None
        self.host_device = None
        self.startup_policy = None
        self.alias = None
        self.address = None  # LibvirtConfigGuestUSBAddress or None

    def format_dom(self):
        if self.vendor_id is None and self.host_bus is None:
            raise _invalid('a USB host device needs vendor and product, '
                           'a host bus and device address, or both')
        if (self.vendor_id is None) != (self.product_id is None):
            raise _invalid('vendor and product go together')
        if (self.host_bus is None) != (self.host_device is None):
            raise _invalid('host bus and device go together')
        if (self.startup_policy is not None and
                self.startup_policy not in STARTUP_POLICIES):
            raise _invalid('startupPolicy must be one of %s, not %r' % (
                ', '.join(STARTUP_POLICIES), self.startup_policy))
        if self.alias is not None and not _ALIAS.match(str(self.alias)):
            raise _invalid('alias must match %s, not %r' % (
                _ALIAS.pattern, self.alias))

        dev = super().format_dom()
        dev.set('mode', 'subsystem')
        dev.set('type', 'usb')
        source = self._new_node('source')
        if self.startup_policy is not None:
            source.set('startupPolicy', self.startup_policy)
        if self.vendor_id is not None:
            source.append(self._new_node(
                'vendor', id=_hex4('vendor id', self.vendor_id)))
            source.append(self._new_node(
                'product', id=_hex4('product id', self.product_id)))
        if self.host_bus is not None:
            source.append(self._new_node(
                'address',
                bus=str(_uint('host bus', self.host_bus, 0, 0xff)),
                device=str(_uint('host device', self.host_device, 1, 0xff))))
        dev.append(source)
        if self.alias is not None:
            dev.append(self._new_node('alias', name=self.alias))
        if self.address is not None:
            dev.append(self.address.format_dom())
        return dev

    def parse_dom(self, xmldoc):
        super().parse_dom(xmldoc)
        if xmldoc.get('mode') != 'subsystem' or xmldoc.get('type') != 'usb':
            raise _invalid('not a USB host device: mode=%r type=%r' % (
                xmldoc.get('mode'), xmldoc.get('type')))
        for child in xmldoc:
            if child.tag == 'source':
                self.startup_policy = child.get('startupPolicy')
                for node in child:
                    if node.tag == 'vendor':
                        self.vendor_id = '%04x' % int(node.get('id'), 16)
                    elif node.tag == 'product':
                        self.product_id = '%04x' % int(node.get('id'), 16)
                    elif node.tag == 'address':
                        self.host_bus = _optional_uint(node, 'bus')
                        self.host_device = _optional_uint(node, 'device')
            elif child.tag == 'alias':
                self.alias = child.get('name')
            elif child.tag == 'address' and child.get('type') == 'usb':
                self.address = LibvirtConfigGuestUSBAddress()
                self.address.parse_dom(child)


class LibvirtConfigGuestUSBController(
        nova_config.LibvirtConfigGuestUSBHostController):
    """<controller type='usb' index model ports>: a guest USB controller.

    Nova's own class writes no ``ports`` and reads nothing back; this one
    does both.
    """

    def __init__(self, index=None, model=None, ports=None, **kwargs):
        super().__init__(**kwargs)
        self.index = index
        self.model = model
        self.ports = ports

    def format_dom(self):
        if self.index is not None:
            _uint('controller index', self.index, 0, 255)
        if self.model is not None and not _MODEL.match(str(self.model)):
            raise _invalid('controller model %r is not a libvirt model '
                           'name' % (self.model,))
        controller = super().format_dom()
        if self.ports is not None:
            controller.set('ports', str(_uint('ports', self.ports, 1, 15)))
        return controller

    def parse_dom(self, xmldoc):
        super().parse_dom(xmldoc)
        if xmldoc.get('type') != 'usb':
            raise _invalid('not a USB controller: type=%r' % (
                xmldoc.get('type'),))
        self.index = _optional_uint(xmldoc, 'index')
        self.model = xmldoc.get('model')
        self.ports = _optional_uint(xmldoc, 'ports')
