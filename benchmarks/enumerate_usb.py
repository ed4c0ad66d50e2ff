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

"""How much a full HostUsbInventory.scan() costs over reading sysfs bare.

nova-compute scans at start-up and whenever uevents were lost, and
nova-usb-manage scans on every call; the cost that matters is what the
pyudev/libudev path, the decoding and the id computation add to the
unavoidable file reads. So the scan is timed against a baseline that
reads what the scan reads, and nothing more, with the cheapest calls
Python has (os.open/os.read, as the scan itself does): it lists
/sys/bus/usb/devices, reads each USB device's uevent file (its DEVTYPE
and numbers, and the udev properties umockdev keeps there,
ID_USB_INTERFACES among them) and its entry in udev's database (where
udev keeps them on a real host; libudev looks there too), and the nine
attributes the scan reads (idVendor, idProduct, busnum, devnum,
bDeviceClass, manufacturer, product, serial, speed), decoded as the scan
decodes them. Same generated host, same run, interleaved so that both see
the same machine load; before timing, the baseline's values are checked
against the scan's. Only the ratio means anything across machines.

Runs under umockdev-wrapper (it re-executes itself under it when needed):
/sys is then the testbed's, for the scan and the baseline alike.
"""

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# Importing the tests package sets Nova's concurrency mode; measure in
# nova-compute's default one, native threads, as tox does.
os.environ.setdefault('OS_NOVA_DISABLE_EVENTLET_PATCHING', '1')

from nova_usb_sandbox import umockdev as testbed_mod  # noqa: E402
from tests.fixtures import usbgen  # noqa: E402

SYS_USB_DEVICES = '/sys/bus/usb/devices'
UDEV_DATABASE = '/run/udev/data/c%s:%s'
# Every sysfs attribute HostUsbInventory.scan() reads of a device
# (nova_usb.virt.inventory.read_device), in its order.
BASELINE_ATTRIBUTES = ('idVendor', 'idProduct', 'busnum', 'devnum',
                       'bDeviceClass', 'manufacturer', 'product', 'serial',
                       'speed')
_REEXEC_MARK = 'NOVA_USB_BENCH_REEXEC'


def _ensure_preloaded():
    """Re-execute under umockdev-wrapper, once, if not preloaded."""
    if testbed_mod.is_preloaded():
        return
    if os.environ.get(_REEXEC_MARK):
        sys.exit('%s is still not preloaded under umockdev-wrapper; is '
                 'umockdev installed?' % testbed_mod.PRELOAD_LIBRARY)
    os.environ[_REEXEC_MARK] = '1'
    os.execvp('umockdev-wrapper',
              ['umockdev-wrapper', sys.executable] + sys.argv)


def _read_text(path):
    """A file's text, decoded as the scan decodes attributes, or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        raw = os.read(fd, 65536)
    except OSError:
        return None
    finally:
        os.close(fd)
    return raw.decode('utf-8', 'backslashreplace').strip() or None


def bare_sysfs_walk():
    """The baseline: what the scan reads, read as cheaply as possible.

    {port path: (ID_USB_INTERFACES, the nine attributes)} of every USB
    device (not interface).
    """
    devices = {}
    for name in os.listdir(SYS_USB_DEVICES):
        if ':' in name:  # an interface
            continue
        path = SYS_USB_DEVICES + '/' + name
        uevent = _read_text(path + '/uevent')
        if uevent is None:
            continue
        properties = dict(line.partition('=')[::2]
                          for line in uevent.splitlines())
        if properties.get('DEVTYPE') != 'usb_device':
            continue
        # udev's own properties, as libudev reads them (the testbed has
        # none there: umockdev keeps them in the uevent file).
        database = _read_text(UDEV_DATABASE % (
            properties.get('MAJOR'), properties.get('MINOR')))
        for line in (database or '').splitlines():
            if line.startswith('E:'):
                key, _, value = line[2:].partition('=')
                properties[key] = value
        devices[name] = (
            properties.get('ID_USB_INTERFACES'),
            tuple(_read_text(path + '/' + attribute)
                  for attribute in BASELINE_ATTRIBUTES))
    return devices


def _same_values(scanned, walked):
    """Raise unless the walk read what the scan reports, device by device.
    """
    for device in scanned:
        interfaces, values = walked[device.port_path]
        vendor, product, bus, devnum, klass, maker, name, serial, speed = (
            values)
        expected = (device.vendor_id, device.product_id, str(device.bus),
                    str(device.devnum), device.device_class,
                    device.vendor_name, device.product_name, device.serial)
        if (vendor.lower(), product.lower(), bus, devnum, klass.lower(),
                maker, name, serial) != expected or not all(
                    c in interfaces for c in device.interface_classes):
            raise AssertionError('the walk and the scan disagree on %s: '
                                 '%r, %r' % (device.port_path, values,
                                             device))


def _time(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def run(devices, repetitions, warmup):
    # Imported here: pyudev must not touch /sys before the testbed exists.
    import pyudev

    from nova_usb.virt import inventory

    host = usbgen.populated_host(devices, buses=(1, 2))
    testbed = testbed_mod.Testbed()
    testbed.setUp()
    try:
        testbed.add_from_string(host.recording())
        scan = inventory.HostUsbInventory(
            'bench-host', pyudev.Context()).scan
        _same_values(scan(), bare_sysfs_walk())
        ours, baseline = [], []
        for round_ in range(warmup + repetitions):
            # Alternate which goes first, so neither always gets the
            # other's warm caches.
            pair = [(ours, scan), (baseline, bare_sysfs_walk)]
            if round_ % 2:
                pair.reverse()
            for timings, function in pair:
                elapsed, found = _time(function)
                if len(found) != len(host.devices):
                    raise AssertionError(
                        '%s found %d devices, not %d' % (
                            function.__name__, len(found),
                            len(host.devices)))
                if round_ >= warmup:
                    timings.append(elapsed)
    finally:
        testbed.cleanUp()
    return host, ours, baseline


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--devices', type=int, default=128,
                        help='USB devices on the host, hubs included, '
                             'root hubs not (default: 128)')
    parser.add_argument('--repetitions', type=int, default=100,
                        help='timed rounds of each (default: 100)')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed rounds first (default: 3)')
    args = parser.parse_args()
    _ensure_preloaded()

    host, ours, baseline = run(args.devices, args.repetitions, args.warmup)
    hubs = sum(d.device_class == usbgen.HUB_CLASS for d in host.devices)
    ours_ms = statistics.median(ours) * 1000
    baseline_ms = statistics.median(baseline) * 1000
    print('host: %d USB devices on buses %s (%d hubs and root hubs, %d '
          'other devices)' % (
              len(host.devices),
              ', '.join(str(b) for b in sorted(host.controllers)), hubs,
              len(host.devices) - hubs))
    print('repetitions: %d each, interleaved, after %d warm-up rounds' % (
        args.repetitions, args.warmup))
    print('HostUsbInventory.scan(): median %8.3f ms  (min %.3f)' % (
        ours_ms, min(ours) * 1000))
    print('bare sysfs walk:          median %8.3f ms  (min %.3f)' % (
        baseline_ms, min(baseline) * 1000))
    print('ratio ours/baseline:      %.2f' % (ours_ms / baseline_ms))


if __name__ == '__main__':
    main()
