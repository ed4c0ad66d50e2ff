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

"""USB controllers and ports of a guest, read from its domain XML.

It answers what libvirt decides when it places a USB device: which
controllers exist, which ports are taken, and which port the next device
gets. The answers mirror libvirt's own address allocator
(``virDomainUSBAddress*`` in ``src/conf/domain_addr.c``): each USB controller
is one bus numbered by its index; ports are tried bus by bus in index order,
first the free ports of the root hub, then, depth first, those of hubs
plugged into it.
"""

import dataclasses
import typing as ty

from lxml import etree

from nova_usb import exception
from nova_usb.virt import config

# Ports of each controller model (libvirt's
# virDomainUSBAddressControllerModelToPorts). None: the ``ports`` attribute
# decides, XHCI_DEFAULT_PORTS when absent. The ich9-uhci companions lend
# their ports to the ich9-ehci1 they sit beside and have none of their own.
CONTROLLER_PORTS = {
    'piix3-uhci': 2,
    'piix4-uhci': 2,
    'vt82c686b-uhci': 2,
    'pci-ohci': 3,
    'ehci': 6,
    'ich9-ehci1': 6,
    'ich9-uhci1': 0,
    'ich9-uhci2': 0,
    'ich9-uhci3': 0,
    'nec-xhci': None,
    'qemu-xhci': None,
}
# The VIA south bridge's controller exists only in QEMU builds for MIPS and
# PowerPC boards; x86 QEMU refuses it at start ("USB controller model
# 'vt82c686b-uhci' not supported in this QEMU binary").
_NOT_ON_X86 = ('vt82c686b-uhci',)
# Models that can be added to a server: every model that owns ports and
# that x86 QEMU has.
ADDABLE_MODELS = tuple(sorted(m for m, p in CONTROLLER_PORTS.items()
                              if p != 0 and m not in _NOT_ON_X86))
XHCI_DEFAULT_PORTS = 4
XHCI_MAX_PORTS = 15
HUB_PORTS = 8


def controller_ports(model, ports=None):
    """How many ports a controller of ``model`` has.

    ``ports`` is the requested ``ports`` attribute; only the xHCI models
    accept one. Raises UnknownControllerModel or InvalidControllerPorts.
    """
    if model not in CONTROLLER_PORTS:
        raise exception.UnknownControllerModel(
            model=model, known=', '.join(ADDABLE_MODELS))
    fixed = CONTROLLER_PORTS[model]
    if fixed is not None:
        if ports is not None and ports != fixed:
            raise exception.InvalidControllerPorts(
                model=model, reason='has %d ports; its port count cannot '
                                    'be set' % fixed)
        return fixed
    if ports is None:
        return XHCI_DEFAULT_PORTS
    if not 1 <= ports <= XHCI_MAX_PORTS:
        raise exception.InvalidControllerPorts(
            model=model, reason='takes 1 to %d ports, not %s' % (
                XHCI_MAX_PORTS, ports))
    return ports


@dataclasses.dataclass(frozen=True)
class UsbController:
    index: int
    model: ty.Optional[str]
    ports: int


@dataclasses.dataclass(frozen=True)
class UsbPortUse:
    """One guest USB port and what sits in it."""

    bus: int
    port: str  # "1", or "1.3" for port 3 of the hub on port 1
    kind: str  # hostdev, input, hub, disk, redirdev, ...


@dataclasses.dataclass(frozen=True)
class UsbTopology:
    controllers: ty.Tuple[UsbController, ...]
    used: ty.Tuple[UsbPortUse, ...]
    # USB devices in the XML without a guest address yet (an inactive
    # definition): libvirt gives them ports when the domain starts.
    unaddressed: ty.Tuple[str, ...]

    def controllers_of(self, model=None):
        return tuple(c for c in self.controllers
                     if c.ports and (model is None or c.model == model))

    def free_ports(self, model=None):
        """Free (bus, port) pairs in libvirt's allocation order."""
        used = {(u.bus, u.port) for u in self.used}
        hubs = {(u.bus, u.port) for u in self.used if u.kind == 'hub'}
        free = []

        def walk(bus, prefix, count):
            ports = [prefix + str(n) for n in range(1, count + 1)]
            free.extend((bus, p) for p in ports if (bus, p) not in used)
            for port in ports:
                if (bus, port) in hubs:
                    walk(bus, port + '.', HUB_PORTS)

        for controller in self.controllers_of(model):
            walk(controller.index, '', controller.ports)
        return free

    def next_free_port(self, model=None):
        """The (bus, port) the next device gets, or None when full.

        For a running guest this is exactly where libvirt puts a device
        hot-plugged without an address. In an inactive definition, devices
        without an address take the first free ports when the domain
        starts, as libvirt assigns them, so those ports are not offered.
        """
        waiting = set(self.free_ports()[:len(self.unaddressed)])
        for port in self.free_ports(model):
            if port not in waiting:
                return port
        return None


# Elements under <devices> that take a USB port, by how to recognise them.
def _usb_port_kind(element):
    tag = element.tag
    if tag == 'hostdev' and element.get('type') == 'usb':
        return 'hostdev'
    if tag in ('input', 'redirdev') and element.get('bus') == 'usb':
        return tag
    if tag == 'hub' and element.get('type') == 'usb':
        return 'hub'
    if tag == 'disk':
        target = element.find('target')
        if target is not None and target.get('bus') == 'usb':
            return 'disk'
    if tag == 'controller' and element.get('type') == 'ccid':
        return 'ccid'
    if tag == 'sound' and element.get('model') == 'usb':
        return 'sound'
    if tag == 'serial':
        target = element.find('target')
        if target is not None and target.get('type') == 'usb-serial':
            return 'serial'
    # Whatever else libvirt gave a USB address holds that port too.
    if element.find("address[@type='usb']") is not None:
        return tag
    return None


def topology_from_xml(domain_xml):
    """The USB topology of a domain, from libvirt's domain XML."""
    root = etree.fromstring(domain_xml)
    devices = root.find('devices')
    if devices is None:
        return UsbTopology((), (), ())
    controllers = []
    used = []
    unaddressed = []
    for element in devices:
        if element.tag == 'controller' and element.get('type') == 'usb':
            conf = config.LibvirtConfigGuestUSBController()
            conf.parse_dom(element)
            if conf.model == 'none':
                continue
            ports = CONTROLLER_PORTS.get(conf.model, None)
            if ports is None:
                ports = conf.ports or XHCI_DEFAULT_PORTS
            controllers.append(UsbController(conf.index or 0,
                                             conf.model, ports))
            continue
        kind = _usb_port_kind(element)
        if kind is None:
            continue
        address = element.find("address[@type='usb']")
        if address is None:
            unaddressed.append(kind)
            continue
        guest = config.LibvirtConfigGuestUSBAddress()
        guest.parse_dom(address)
        used.append(UsbPortUse(guest.bus or 0, guest.port, kind))
    controllers.sort(key=lambda c: c.index)
    return UsbTopology(tuple(controllers), tuple(used), tuple(unaddressed))
