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

"""The USB devices of this host, read from udev with pyudev.

Everything sysfs can throw at a reader is expected here: attributes that
are missing or not UTF-8, devices without a serial number, and devices
that vanish between being listed and being read (they are skipped, the
hotplug watcher reports their removal).
"""

import re
import threading

from oslo_log import log as logging
import pyudev

from nova_usb.virt import usb_device

LOG = logging.getLogger(__name__)

SUBSYSTEM = 'usb'
DEVICE_TYPE = 'usb_device'

_HEX4 = re.compile(r'^[0-9a-fA-F]{4}$')
_HEX2 = re.compile(r'^[0-9a-fA-F]{2}$')

ADDED = 'add'
REMOVED = 'remove'
# Actions after which a device is read again; 'unbind' only tells that a
# driver let go (for example when QEMU takes the device over) and changes
# nothing we report.
_READ_ACTIONS = ('add', 'change', 'bind')


def _text(raw):
    """Decode a sysfs or udev value; never fails, '' becomes None."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode('utf-8', 'backslashreplace')
    raw = raw.strip()
    return raw or None


def _attribute(udev_device, name):
    return _text(udev_device.attributes.get(name))


def _property(udev_device, name):
    try:
        return _text(udev_device.properties.get(name))
    except UnicodeDecodeError as e:
        # pyudev decodes properties strictly, and a udev rule or a local
        # hwdb entry can set any bytes: decode them as attributes are.
        return _text(e.object)


def _speed(text):
    try:
        speed = float(text)
    except (TypeError, ValueError):
        return None
    return int(speed) if speed.is_integer() else speed


def _interface_classes(udev_device):
    """Classes of the device's interfaces, e.g. ('03',) for a HID key.

    udev's usb_id builtin records them in ID_USB_INTERFACES
    (':030000:030101:'); without it (no udev rules ran) the interface
    children are read from sysfs.
    """
    recorded = _property(udev_device, 'ID_USB_INTERFACES')
    if recorded:
        classes = (entry[:2].lower() for entry in recorded.split(':')
                   if len(entry) == 6)
    else:
        # Interfaces of this device are named "<port path>:<config>.<n>".
        prefix = udev_device.sys_name + ':'
        classes = (_attribute(child, 'bInterfaceClass')
                   for child in udev_device.children
                   if child.sys_name.startswith(prefix))
    return tuple(sorted({c.lower() for c in classes
                         if c and _HEX2.match(c)}))


def read_device(udev_device, host):
    """A HostUsbDevice without id, or None if it is unreadable or gone."""
    vendor_id = _attribute(udev_device, 'idVendor')
    product_id = _attribute(udev_device, 'idProduct')
    bus = _attribute(udev_device, 'busnum')
    devnum = _attribute(udev_device, 'devnum')
    device_class = _attribute(udev_device, 'bDeviceClass')
    if not (vendor_id and _HEX4.match(vendor_id) and
            product_id and _HEX4.match(product_id) and
            bus and bus.isdigit() and devnum and devnum.isdigit()):
        LOG.debug('Skipping USB device %s: it vanished or its sysfs '
                  'attributes are incomplete', udev_device.sys_path)
        return None
    if not (device_class and _HEX2.match(device_class)):
        device_class = '00'
    return usb_device.HostUsbDevice(
        host=host,
        vendor_id=vendor_id.lower(),
        product_id=product_id.lower(),
        vendor_name=(_attribute(udev_device, 'manufacturer') or
                     _property(udev_device, 'ID_VENDOR_FROM_DATABASE')),
        product_name=(_attribute(udev_device, 'product') or
                      _property(udev_device, 'ID_MODEL_FROM_DATABASE')),
        serial=_attribute(udev_device, 'serial'),
        bus=int(bus),
        devnum=int(devnum),
        port_path=udev_device.sys_name,
        speed=_speed(_attribute(udev_device, 'speed')),
        device_class=device_class.lower(),
        interface_classes=_interface_classes(udev_device),
        is_root_hub=udev_device.sys_name.startswith('usb'),
        sys_path=udev_device.sys_path,
    )


class InventoryChange(object):
    """What one uevent changed: a device added (or re-read) or removed."""

    def __init__(self, action, device):
        self.action = action
        self.device = device

    def __repr__(self):
        return 'InventoryChange(%s, %s)' % (self.action, self.device.id)


class HostUsbInventory(object):
    """The USB devices of one host, kept current by scans and uevents.

    Thread-safe: the hotplug watcher applies uevents from its own thread
    while the compute driver reads.
    """

    def __init__(self, host, context=None):
        self.host = host
        self._context = context or pyudev.Context()
        self._lock = threading.Lock()
        self._readings = {}  # sys_path -> HostUsbDevice without id
        self._devices = []  # with ids, in port order

    def scan(self):
        """Enumerate every USB device of the host again."""
        enumerator = self._context.list_devices(
            subsystem=SUBSYSTEM, DEVTYPE=DEVICE_TYPE)
        readings = {}
        for udev_device in enumerator:
            reading = read_device(udev_device, self.host)
            if reading is not None:
                readings[reading.sys_path] = reading
        with self._lock:
            self._readings = readings
            self._renumber()
        return self.devices()

    def devices(self):
        with self._lock:
            return list(self._devices)

    def get(self, device_id):
        with self._lock:
            for device in self._devices:
                if device.id == device_id:
                    return device
        return None

    def apply_uevent(self, action, udev_device):
        """Apply one uevent; returns an InventoryChange, or None.

        Removals are matched by sysfs path, never by serial: the kernel
        reports a device moved to another port as 'add' at the new port
        *before* 'remove' at the old one, and a removed device's serial
        can no longer be read.
        """
        sys_path = udev_device.sys_path
        with self._lock:
            if action == REMOVED:
                if sys_path not in self._readings:
                    return None
                gone = self._device_at(sys_path)
                del self._readings[sys_path]
                self._renumber()
                return InventoryChange(REMOVED, gone)
            if action not in _READ_ACTIONS:
                return None
            reading = read_device(udev_device, self.host)
            if reading is None:
                return None
            self._forget_moved_away(reading)
            self._readings[sys_path] = reading
            self._renumber()
            return InventoryChange(ADDED, self._device_at(sys_path))

    def _forget_moved_away(self, reading):
        """Drop an earlier reading of the same device at a port it left.

        A device moved to another port is announced at the new port before
        it is removed from the old one; for that moment two readings share
        one serial, which would give both port-based ids. The old one is
        gone from sysfs already, so it is dropped now and its 'remove'
        changes nothing.
        """
        if not reading.serial:
            return
        for sys_path, other in list(self._readings.items()):
            if (sys_path != reading.sys_path and
                    other.serial_key == reading.serial_key and
                    not self._exists(sys_path)):
                del self._readings[sys_path]

    def _exists(self, sys_path):
        try:
            pyudev.Devices.from_sys_path(self._context, sys_path)
        except pyudev.DeviceNotFoundAtPathError:
            return False
        return True

    def _device_at(self, sys_path):
        for device in self._devices:
            if device.sys_path == sys_path:
                return device
        return None

    def _renumber(self):
        self._devices = sorted(
            usb_device.with_ids(list(self._readings.values())),
            key=usb_device.port_sort_key)
