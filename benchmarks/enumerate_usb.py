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
only lists /sys/bus/usb/devices and reads five attributes per device with
open(), on the same generated host, in the same run, interleaved so that
both see the same machine load. Only the ratio means anything across
machines.

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

from nova_usb.sandbox import umockdev as testbed_mod  # noqa: E402
from tests.fixtures import usbgen  # noqa: E402

SYS_USB_DEVICES = '/sys/bus/usb/devices'
BASELINE_ATTRIBUTES = ('idVendor', 'idProduct', 'serial', 'busnum',
                       'devnum')
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


def bare_sysfs_walk():
    """The baseline: what any reader of USB devices must do at least."""
    devices = []
    for name in os.listdir(SYS_USB_DEVICES):
        values = []
        for attribute in BASELINE_ATTRIBUTES:
            try:
                with open(os.path.join(SYS_USB_DEVICES, name,
                                       attribute)) as f:
                    values.append(f.read().strip())
            except OSError:
                values.append(None)
        if values[0] is not None:  # interfaces have no idVendor
            devices.append(values)
    return devices


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
    parser.add_argument('--repetitions', type=int, default=30,
                        help='timed rounds of each (default: 30)')
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
