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

"""The USB devices of this host, read from sysfs and udev.

Devices are listed from /sys/bus/usb/devices (interfaces, named
"<port path>:<config>.<interface>", are left out by name), known to udev
through pyudev, and their sysfs attributes are read straight from their
files: the same bytes libudev would return, without a library round trip
per attribute. udev's properties (interface classes, names from the
hardware database) come from pyudev.

Everything sysfs can throw at a reader is expected here: attributes that
are missing or not UTF-8, devices without a serial number, and devices
that vanish between being listed and being read (they are skipped, the
hotplug watcher reports their removal).
"""

import os
import re
import threading

from oslo_log import log as logging
import pyudev

from nova_usb.virt import usb_device

LOG = logging.getLogger(__name__)

SUBSYSTEM = 'usb'
DEVICE_TYPE = 'usb_device'
# The kernel lists every USB device and interface of the host here.
SYS_BUS_DEVICES = '/sys/bus/usb/devices'
# sysfs never returns more than a page for an attribute.
_ATTRIBUTE_MAX = 65536

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


def _read_text(path):
    """A sysfs attribute decoded as _text() does, or None when it cannot
    be read (absent, or the device is gone).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        raw = os.read(fd, _ATTRIBUTE_MAX)
    except OSError:
        return None
    finally:
        os.close(fd)
    return raw.decode('utf-8', 'backslashreplace').strip() or None


def _attribute(udev_device, name):
    return _read_text(udev_device.sys_path + '/' + name)


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
    sys_path = udev_device.sys_path
    prefix = sys_path + '/'
    vendor_id = _read_text(prefix + 'idVendor')
    product_id = _read_text(prefix + 'idProduct')
    bus = _read_text(prefix + 'busnum')
    devnum = _read_text(prefix + 'devnum')
    if not (vendor_id and _HEX4.match(vendor_id) and
            product_id and _HEX4.match(product_id) and
            bus and bus.isdigit() and devnum and devnum.isdigit()):
        LOG.debug('Skipping USB device %s: it vanished or its sysfs '
                  'attributes are incomplete', sys_path)
        return None
    device_class = _read_text(prefix + 'bDeviceClass')
    if not (device_class and _HEX2.match(device_class)):
        device_class = '00'
    port_path = udev_device.sys_name
    return usb_device.HostUsbDevice(
        host=host,
        vendor_id=vendor_id.lower(),
        product_id=product_id.lower(),
        vendor_name=(_read_text(prefix + 'manufacturer') or
                     _property(udev_device, 'ID_VENDOR_FROM_DATABASE')),
        product_name=(_read_text(prefix + 'product') or
                      _property(udev_device, 'ID_MODEL_FROM_DATABASE')),
        serial=_read_text(prefix + 'serial'),
        bus=int(bus),
        devnum=int(devnum),
        port_path=port_path,
        speed=_speed(_read_text(prefix + 'speed')),
        device_class=device_class.lower(),
        interface_classes=_interface_classes(udev_device),
        is_root_hub=port_path.startswith('usb'),
        sys_path=sys_path,
    )


def usb_devices(context):
    """The host's USB devices (not interfaces) as pyudev Devices.

    What udev's enumerator returns for subsystem 'usb' and DEVTYPE
    'usb_device', for less: the enumerator reads the uevent file of every
    interface too, to match the property.
    """
    # os.scandir rather than os.listdir, which Nova's test fixtures forbid
    # on /sys (nova-usb's own tests give it a umockdev sysfs).
    try:
        with os.scandir(SYS_BUS_DEVICES) as entries:
            names = [entry.name for entry in entries]
    except FileNotFoundError:  # no USB on this host
        return
    for name in names:
        if ':' in name:
            continue
        path = SYS_BUS_DEVICES + '/' + name
        try:
            # Each entry links to the device's own directory: libudev
            # resolves a path component by component, a link costs it
            # more than this one readlink.
            path = os.path.normpath(os.path.join(SYS_BUS_DEVICES,
                                                 os.readlink(path)))
        except OSError:
            pass  # not a link, or gone: libudev decides
        try:
            udev_device = pyudev.Devices.from_sys_path(context, path)
        except pyudev.DeviceNotFoundError:
            continue  # gone since listed
        if udev_device.device_type == DEVICE_TYPE:
            yield udev_device


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
        self._by_id = {}  # the same devices by id

    def scan(self):
        """Enumerate every USB device of the host again."""
        readings = {}
        for udev_device in usb_devices(self._context):
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
            return self._by_id.get(device_id)

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
        self._by_id = {device.id: device for device in self._devices}
