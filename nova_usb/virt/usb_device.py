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

"""A USB device of a compute host, and its stable identity.

Identity rules (the product contract):

* a device with a serial number is known by host, vendor, product and
  serial: it keeps its id when replugged, when the host reboots and when it
  moves to another port of the same host;
* a device without a serial number is known by host, vendor, product and
  port path: it keeps its id when replugged into the same port;
* two devices of one host that claim the same vendor, product and serial
  (cheap devices with a constant serial) cannot be told apart by serial, so
  both are known by port path instead;
* bus and device numbers are shown but never used: the kernel hands out a
  new device number at every replug.

The host name is part of every id, so ids are unique across the cloud.
"""

import collections
import dataclasses
import typing as ty
import uuid

# Fixed namespace of nova-usb device ids (uuid5): changing it would change
# every device id in every cloud.
DEVICE_ID_NAMESPACE = uuid.UUID('5f0b7c64-8a34-4b53-9a0e-6d2b9d1f3c21')

HUB_CLASS = '09'


@dataclasses.dataclass(frozen=True)
class HostUsbDevice:
    """One USB device (not interface) as the host's kernel reports it."""

    host: str
    vendor_id: str
    product_id: str
    vendor_name: ty.Optional[str]
    product_name: ty.Optional[str]
    serial: ty.Optional[str]
    bus: int
    devnum: int
    port_path: str
    speed: ty.Optional[float]
    device_class: str
    interface_classes: ty.Tuple[str, ...]
    is_root_hub: bool
    sys_path: str
    id: ty.Optional[str] = None

    @property
    def is_hub(self):
        """A hub, or a composite device with a hub interface: the hub
        part would hand the guest whatever is plugged into it, so such a
        device is a hub too (hubs are never assignable).
        """
        return (self.is_root_hub or self.device_class == HUB_CLASS or
                HUB_CLASS in self.interface_classes)

    @property
    def serial_key(self):
        return (self.vendor_id, self.product_id, self.serial)

    def to_dict(self):
        """The public description of the device (no sysfs path)."""
        return {
            'id': self.id,
            'host': self.host,
            'vendor_id': self.vendor_id,
            'product_id': self.product_id,
            'vendor_name': self.vendor_name,
            'product_name': self.product_name,
            'serial': self.serial,
            'bus': self.bus,
            'devnum': self.devnum,
            'port_path': self.port_path,
            'speed': self.speed,
            'device_class': self.device_class,
            'interface_classes': list(self.interface_classes),
            'is_hub': self.is_hub,
            'is_root_hub': self.is_root_hub,
        }


def device_id(host, vendor_id, product_id, serial=None, port_path=None):
    """The opaque id of a device: by serial when given, else by port."""
    if serial:
        locator = 'serial=%s' % serial
    else:
        locator = 'port=%s' % port_path
    name = '\n'.join((host, '%s:%s' % (vendor_id, product_id), locator))
    return str(uuid.uuid5(DEVICE_ID_NAMESPACE, name))


def with_ids(devices):
    """Give each device of one host its id (see the module docstring).

    Identity depends on the other devices of the host only when serials
    collide, so the whole set is numbered at once.
    """
    serial_counts = collections.Counter(
        d.serial_key for d in devices if d.serial)
    named = []
    for device in devices:
        serial = device.serial
        if serial and serial_counts[device.serial_key] > 1:
            serial = None
        # A copy with the id: dataclasses.replace() does the same, at
        # twice the cost, which shows when a scan numbers every device.
        named.append(HostUsbDevice(**{**vars(device), 'id': device_id(
            device.host, device.vendor_id, device.product_id,
            serial=serial, port_path=device.port_path)}))
    return named


def port_sort_key(device):
    """Order devices as lsusb -t would: by bus, then by port path."""
    ports = device.port_path.partition('-')[2]
    return (device.bus,
            tuple(int(p) for p in ports.split('.') if p.isdigit()))
