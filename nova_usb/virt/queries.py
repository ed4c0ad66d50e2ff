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

"""What a compute host answers about its USB devices and a server's.

Mixed into nova_usb.virt.manager.UsbManager, whose lock, claims,
inventory and refusal rule it uses.
"""

from nova_usbclient import statuses

from nova_usb.db import server_requests
from nova_usb import records
from nova_usb import states
from nova_usb.virt import devspec
from nova_usb.virt import guest as usb_guest
from nova_usb.virt import plans


class UsbQueries(object):
    """Mixed into UsbManager."""

    def list_host_devices(self, context):
        with self.lock:
            holders = self.claims.snapshot()
            return [self._describe(d, holders.get(d.id))
                    for d in self.inventory.devices()]

    def list_server_devices(self, context, instance):
        """The server's requested devices (records.ServerDevice):
        ``detaching`` while a detach accepted by start_detach runs,
        ``attached`` when the server may have the device now, else
        ``missing`` with the reason.
        """
        instance = server_requests.read(context, instance.uuid)
        requests = self._load(instance)
        with self.lock:
            result = []
            for request in requests.devices:
                device = self.inventory.get(request.id)
                reason = self._refusal(device, instance.uuid, request)
                if self.detaching.get(request.id) == instance.uuid:
                    status, reason = statuses.DETACHING, None
                elif reason:
                    status = statuses.MISSING
                else:
                    status = statuses.ATTACHED
                values = dict(
                    status=status, reason=reason,
                    controller_model=request.controller_model)
                if device is not None:
                    result.append(records.ServerDevice.of_host_device(
                        self._describe(device,
                                       self.claims.holder(request.id)),
                        **values))
                else:
                    result.append(records.ServerDevice(
                        id=request.id, host=self.host,
                        vendor_id=request.vendor_id,
                        product_id=request.product_id, **values))
            return result

    def list_controllers(self, context, instance):
        """The server's USB controllers (records.Controller) and how many
        ports each uses: of the running guest when it runs, else as its
        next start will have them.
        """
        instance = server_requests.read(context, instance.uuid)
        requests = self._load(instance)
        if states.DEVICE_CHANGE.get(instance.vm_state) == states.LIVE:
            topology = usb_guest.UsbGuest(self.driver, instance).topology()
            taken = [(u.bus, u.port) for u in topology.used]
        else:
            topology, taken = plans.used_ports(self._defined_xml(instance),
                                               requests)
        return [records.Controller(
            index=c.index, model=c.model, ports=c.ports,
            used_ports=sum(1 for bus, _ in taken if bus == c.index),
            removable=requests.controller(c.index) is not None)
            for c in topology.controllers]

    def _describe(self, device, holder):
        """The device as nova-api is told of it (records.HostDevice): with
        its holder, and how its device_spec rule lets it be used (``use``,
        and ``projects``: the projects the rule grants it to; nova-api
        adds the grants it stores, and shows neither to project members).
        """
        reason = devspec.unassignable_reason(self.specs, device)
        spec = devspec.matching_spec(self.specs, device)
        return records.HostDevice(
            id=device.id, host=device.host, vendor_id=device.vendor_id,
            product_id=device.product_id, vendor_name=device.vendor_name,
            product_name=device.product_name, serial=device.serial,
            bus=device.bus, devnum=device.devnum,
            port_path=device.port_path, speed=device.speed,
            device_class=device.device_class,
            interface_classes=list(device.interface_classes),
            is_hub=device.is_hub, assignable=reason is None, reason=reason,
            server_id=holder, use=spec.use if spec else None,
            projects=list(spec.projects) if spec else [])
