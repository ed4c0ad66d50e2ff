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

"""Whether a recorded change fits the server's next start.

A stopped server's USB changes are only recorded: Nova writes the whole
domain at the next start, with nova-usb's controllers and devices
(nova_usb.virt.manager.UsbManager.add_to_guest_config). These pure
functions decide, from the server's persistent libvirt definition (None
when libvirt has none) and its requests, what that start will have and
refuse what would not fit. libvirt fits devices that ask for no particular
controller itself, adding USB hubs when ports run out, so only devices
asking for a controller model are placed.
"""

from nova_usb import conf as nova_usb_conf
from nova_usb.db import requests as usb_requests
from nova_usb import exception
from nova_usb.virt import ports

CONF = nova_usb_conf.CONF


def next_start(defined_xml, requests):
    """The UsbTopology the server has the next time Nova writes it."""
    return ports.planned_topology(
        defined_xml,
        [(c.index, c.model, c.ports) for c in requests.controllers],
        CONF.usb.default_controller_model, bool(requests.devices))


def used_ports(defined_xml, requests):
    """(topology, every port the next start takes)."""
    topology = next_start(defined_xml, requests)
    _, used = ports.plan_ports(
        topology, [r.controller_model for r in requests.devices])
    return topology, used


def new_controller(defined_xml, requests, model, ports_count):
    """The next controller the server gets; the one place the per-server
    limit is applied.
    """
    if len(requests.controllers) >= CONF.usb.max_controllers_per_server:
        raise exception.UsbTooManyControllers(
            limit=CONF.usb.max_controllers_per_server)
    indexes = [c.index for c in next_start(
        defined_xml, requests).controllers] + [0]
    return usb_requests.ControllerRequest(
        index=max(indexes) + 1, model=model, ports=ports_count)


def with_device(defined_xml, requests, request):
    """The requests with one more device; a device asking for a controller
    model gets a port of that model, its controller added first if the
    server has none.
    """
    wanted = requests.with_device(request)
    model = request.controller_model
    if not model:
        return wanted
    if not next_start(defined_xml, requests).controllers_of(model):
        wanted = wanted.with_controller(
            new_controller(defined_xml, requests, model, None))
    check_model_ports(next_start(defined_xml, wanted), wanted, model)
    return wanted


def check_model_ports(topology, requests, model):
    wanting = [r for r in requests.devices if r.controller_model == model]
    free = topology.free_ports(model)
    if len(wanting) > len(free):
        raise exception.UsbNoFreePort(
            reason='the %d ports of the server\'s %s controllers are '
                   'all asked for. Add another %s controller, or attach '
                   'without a controller_model.' % (len(free), model, model))


def without_controller(defined_xml, requests, index):
    """The requests without controller ``index``, unless devices need it."""
    controller = requests.controller(index)
    if controller is None:
        raise exception.UsbControllerNotFound(index=index)
    wanted = requests.without_controller(index)
    topology = next_start(defined_xml, wanted)
    for device in wanted.devices:
        if (device.controller_model and
                not topology.controllers_of(device.controller_model)):
            raise exception.UsbControllerInUse(
                index=index, reason='USB device %s was attached to a %s '
                'controller; detach it first' % (device.id,
                                                 device.controller_model))
    if controller.model in {d.controller_model for d in wanted.devices}:
        try:
            check_model_ports(topology, wanted, controller.model)
        except exception.UsbNoFreePort:
            raise exception.UsbControllerInUse(
                index=index, reason='the USB devices attached to %s '
                'controllers would not fit on the remaining ones; detach '
                'some first' % controller.model)
    return wanted
