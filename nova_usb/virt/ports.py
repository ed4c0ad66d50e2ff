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
from nova_usbclient import controller_models

from nova_usb.virt import config
from nova_usb.virt import controllers


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
    # USB devices without a guest address yet: in XML that libvirt has not
    # read (a definition Nova is about to write, or a plan); libvirt gives
    # them ports when it reads it.
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
                    walk(bus, port + '.', controllers.HUB_PORTS)

        for controller in self.controllers_of(model):
            walk(controller.index, '', controller.ports)
        return free

    def next_free_port(self, model=None):
        """The (bus, port) the next device gets, or None when full.

        For a running guest this is exactly where libvirt puts a device
        hot-plugged without an address. In XML libvirt has not read yet,
        devices without an address take the first free ports, as libvirt
        assigns them, so those ports are not offered. (libvirt would add a
        hub when they do not fit; the model never counts on that.)
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
    devices = etree.fromstring(domain_xml).find('devices')
    if devices is None:
        return UsbTopology((), (), ())
    return topology_from_elements(devices)


def topology_from_config(guest):
    """The USB topology of a LibvirtConfigGuest (a domain Nova is about
    to write), from its devices alone: nothing else of the domain is
    formatted, and nothing is serialised and parsed back.
    """
    return topology_from_elements(device.format_dom()
                                  for device in guest.devices)


def topology_from_elements(devices):
    """The USB topology of a domain's ``<devices>`` children."""
    found = []
    used = []
    unaddressed = []
    for element in devices:
        if element.tag == 'controller' and element.get('type') == 'usb':
            conf = config.LibvirtConfigGuestUSBController()
            conf.parse_dom(element)
            if conf.model == 'none':
                continue
            model = conf.model or controllers.DEFAULT_MODEL
            ports = controller_models.CONTROLLER_PORTS.get(model)
            if ports is None:
                ports = conf.ports or controller_models.XHCI_DEFAULT_PORTS
            found.append(UsbController(conf.index or 0, model, ports))
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
    found.sort(key=lambda c: c.index)
    return UsbTopology(tuple(found), tuple(used), tuple(unaddressed))


def planned_topology(defined_xml, controller_requests, default_model,
                     wants_devices):
    """The USB controllers and Nova's own USB devices a server has the
    next time Nova writes its domain.

    ``defined_xml``: the server's persistent libvirt definition, or None
    when libvirt has none yet. Its root controller is Nova's (unless Nova
    disabled USB, model 'none', which nova-usb replaces with
    ``default_model`` when the server ``wants_devices``); its USB devices
    other than host devices and hubs (the tablet, ...) come back too.
    ``controller_requests``: ``(index, model, ports)`` of the controllers
    nova-usb adds.
    """
    root = None
    if wants_devices:
        root = UsbController(0, default_model,
                             controllers.controller_ports(default_model))
    own_devices = ()
    if defined_xml is not None:
        defined = topology_from_xml(defined_xml)
        root = next((c for c in defined.controllers if c.index == 0), root)
        own_devices = tuple(
            kind for kind in [u.kind for u in defined.used] +
            list(defined.unaddressed) if kind not in ('hostdev', 'hub'))
    planned = [root] if root else []
    for index, model, ports in controller_requests:
        planned.append(UsbController(
            index, model, controllers.controller_ports(model, ports)))
    return UsbTopology(tuple(planned), (), own_devices)


def plan_ports(topology, device_models):
    """Where the next start of a server puts its USB host devices, as
    nova-usb writes them and libvirt then places them.

    ``device_models``: the controller model each device asked for (None:
    any). A device that asked for a model gets the first free port of that
    model's controllers that no device before it took, and keeps that
    address in the domain; the others get no address, and libvirt gives
    them, like the topology's own unaddressed devices, the first free ports
    left.

    Returns ``(addresses, used)``: the address of each device (None when
    libvirt decides, or when its model has no free port left) and every
    port the start takes.
    """
    addresses = []
    free = {}  # model -> its free ports, computed once
    taken = set()
    for model in device_models:
        address = None
        if model:
            if model not in free:
                free[model] = topology.free_ports(model)
            address = next((p for p in free[model] if p not in taken),
                           None)
            taken.add(address)
        addresses.append(address)
    explicit = [a for a in addresses if a is not None]
    waiting = len(topology.unaddressed) + addresses.count(None)
    left = [p for p in topology.free_ports() if p not in explicit]
    return addresses, explicit + left[:waiting]


def full_reason(topology, model):
    """Why a running server has no port for one more device, and what to
    do about it.
    """
    if model and not topology.controllers_of(model):
        return ('the server has no %s USB controller. Stop the server '
                'and attach again with this controller_model (or add '
                'the controller) to get one.' % model)
    return ('every USB port of the server%s is taken. Stop the server '
            'and add a USB controller, or attach while it is stopped '
            'with a controller_model.' % (
                ' on %s controllers' % model if model else ''))
