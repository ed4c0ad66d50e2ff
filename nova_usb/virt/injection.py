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

"""A server's USB controllers and devices in the domain Nova writes.

Nova builds the whole domain anew at every boot, hard reboot, start,
rebuild, rescue, resize, unshelve and evacuation; nova-usb adds what the
server requests to Nova's LibvirtConfigGuest before it is written, so
those operations keep the server's USB devices.
"""

from nova_usb import conf as nova_usb_conf
from nova_usb.virt import config as usb_config
from nova_usb.virt import guest as usb_guest
from nova_usb.virt import ports

CONF = nova_usb_conf.CONF


def add_to_guest_config(guest, requests, devices):
    """Add the controllers of ``requests`` (UsbRequests) and ``devices``
    (pairs of a DeviceRequest and the host's device: those the server may
    have now) to ``guest``, a LibvirtConfigGuest. Devices asking for a
    controller model get their ports here (nova_usb.virt.ports.plan_ports);
    libvirt places the others.

    A server requesting devices gets a USB controller even when none of
    them is on the host, so that they can be given back live.
    """
    if requests.devices:
        _enable_root_controller(guest)
    for request in requests.controllers:
        guest.add_device(usb_config.LibvirtConfigGuestUSBController(
            index=request.index, model=request.model, ports=request.ports))
    addresses, _ = ports.plan_ports(
        ports.topology_from_config(guest),
        [request.controller_model for request, _ in devices])
    for (_, device), address in zip(devices, addresses):
        guest.add_device(usb_guest.make_hostdev(device, address))


def _enable_root_controller(guest):
    """Nova disables USB (model 'none') unless the image asks for a USB
    device: a server holding host devices needs a real controller.
    """
    for device in guest.devices:
        if (isinstance(device,
                       usb_config.nova_config.LibvirtConfigGuestController)
                and device.type == 'usb' and device.model == 'none'):
            device.model = CONF.usb.default_controller_model
