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

"""Making a server's domain hold what its stored requests say.

The rule, whatever nova-compute was doing when it stopped (killed between
the libvirt change and the database save, or a device that came back while
it was down): **the stored requests win**. They are the one record that
outlives the process and that Nova rebuilds the domain from at every
start, so a change counts as made once it is saved, and not before.

For a running or paused server, the live and the persistent domain are
brought to the requests:

* a host device nova-usb attached that the server no longer requests is
  detached (a change interrupted before its save; or a detach whose save
  was lost);
* a requested device that is on the host and may be assigned but that the
  guest lacks is attached live and persistent, at the guest port it had or
  the next free one (a detach interrupted before its save; a device that
  came back to the host, with a new device number);
* a requested device the live domain has but the persistent one lacks is
  put back into the persistent one.

For a stopped server only the persistent definition is cleaned of devices
it no longer requests; requested devices join when Nova writes the domain
at its next start, as they always do. Servers with a Nova task in progress
are left to Nova, which writes their domain anew.

A server whose build ended with nova-compute (BUILDING at the start, or
in ERROR: nova_usb.states.build_cut_short) may run a domain with devices
placement allocated that Nova never saved as its requests: those are
taken out of the live and the persistent domain, and none is given back
(take_out_unrequested). Its allocation loses them too, as every
server's unrequested devices do at the start.
"""

from oslo_log import log as logging

from nova_usb import exception
from nova_usb import states
from nova_usb.virt import guest as usb_guest
from nova_usb.virt import ports

LOG = logging.getLogger(__name__)


def reconcile(guest, requests, mode, usable_device):
    """Bring ``guest`` (a UsbGuest) to ``requests``.

    ``mode``: states.LIVE or states.RECORDED for the server's state.
    ``usable_device(request)``: the host's device for a request when the
    server may have it now (on the host, assignable, not held by another
    server), else None. Returns the ids of the devices it changed.
    """
    wanted = {r.id: r for r in requests.devices}
    persistent = guest.hostdevs(persistent=True)
    changed = []
    # A server Nova thinks runs whose domain does not (the host rebooted):
    # Nova starts it anew from the requests.
    if mode != states.LIVE or not guest.is_running():
        for device_id in sorted(set(persistent) - set(wanted)):
            guest.detach_persistent(device_id)
            changed.append(device_id)
        return changed
    live = guest.hostdevs()
    for device_id in sorted((set(live) | set(persistent)) - set(wanted)):
        if device_id in live:
            guest.detach(device_id)
        else:
            guest.detach_persistent(device_id)
        changed.append(device_id)
    for device_id, request in sorted(wanted.items()):
        device = usable_device(request)
        if device is None:
            continue
        if give_back(guest, device, request.controller_model):
            changed.append(device_id)
        elif device_id not in persistent:
            guest.attach(live[device_id], live=False, persistent=True)
            changed.append(device_id)
    return changed


def take_out_unrequested(guest, requests):
    """Detach from ``guest`` every device nova-usb attached that
    ``requests`` does not have, live and persistent; attach nothing.
    Returns the ids of the devices it took out.
    """
    wanted = {r.id for r in requests.devices}
    live = guest.hostdevs() if guest.is_running() else {}
    persistent = guest.hostdevs(persistent=True)
    changed = sorted((set(live) | set(persistent)) - wanted)
    for device_id in changed:
        if device_id in live:
            guest.detach(device_id)
        else:
            guest.detach_persistent(device_id)
    return changed


def give_back(guest, device, controller_model):
    """Attach a requested device the live guest does not hold (any more).

    A stale host device still in the domain (the device left the host and
    came back with a new device number: QEMU never takes it again by
    itself) is detached first, and the device goes back to the guest port
    it had, or to the next free port. Returns False when the guest already
    holds the device.
    """
    stale = guest.hostdev(device.id)
    address = None
    if stale is not None:
        if (stale.host_bus, stale.host_device) == (device.bus,
                                                   device.devnum):
            return False
        if stale.address is not None:
            address = (stale.address.bus, stale.address.port)
        guest.detach(device.id)
    if address is None:
        topology = guest.topology()
        address = topology.next_free_port(controller_model)
        if address is None:
            raise exception.UsbNoFreePort(
                reason=ports.full_reason(topology, controller_model))
    guest.attach(usb_guest.make_hostdev(device, address))
    LOG.info('USB device %s is back on the host (%s:%s at %s, bus %d device '
             '%d): given back to the server', device.id, device.vendor_id,
             device.product_id, device.port_path, device.bus, device.devnum,
             instance=guest.instance)
    return True
