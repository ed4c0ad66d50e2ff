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

"""The compute side's USB changes, against baselines measured in the same run.

Real here: libvirtd and QEMU, Nova's libvirt driver (LibvirtUsbDriver, its
host connection finding each server's domain by uuid), the servers
(Instance objects in Nova's database on SQLite, benchmarks/nova_db.py,
read and saved by nova-usb's own code) and the host's USB inventory
(HostUsbInventory reading, through libudev, a generated host of 889 USB
devices loaded into a umockdev testbed, as this kernel has no USB; the
script re-executes itself under umockdev-wrapper for that, and libvirtd
never runs under it).

(a) A live attach through UsbManager against the bare libvirt call
    (attachDeviceFlags with AFFECT_LIVE|AFFECT_CONFIG, the flags nova-usb
    uses), on the same running persistent domain. This kernel has no USB,
    so libvirt refuses both at the same point: the ratio is what nova-usb
    (Nova's lock, reading the server, checks, claim, port model, XML) adds
    in front of libvirt, not the cost of a passthrough.
(b) An attach to a stopped server asking for a qemu-xhci port: the server
    read from the database, checks, the port plan from the domain's
    persistent libvirt definition, the claim, and the save to the
    database; on a host where 1 other server holds a device, against one
    where 500 do (500 servers in the database, the claims rebuilt from
    them as nova-compute does at start-up). Claims are a dictionary: it
    should stay flat.

Then reading a server and saving its requests are timed alone, to show
how much of (a) and (b) is the database.

Run from the top of the repository (root: it uses qemu:///system, starting
libvirtd when it is not running and stopping what it started)::

    python benchmarks/usb_manager.py
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
os.environ.setdefault('OS_NOVA_DISABLE_EVENTLET_PATCHING', '1')

# Nova's concurrency mode is chosen before anything imports eventlet.
import tests  # noqa: E402,F401,I100

import libvirt  # noqa: E402
from lxml import etree  # noqa: E402
from nova import context as nova_context  # noqa: E402

from benchmarks import nova_db  # noqa: E402
from nova_usb.db import requests as usb_requests  # noqa: E402
from nova_usb.db import server_requests  # noqa: E402
from nova_usb import exception  # noqa: E402
from nova_usb.virt import devspec  # noqa: E402
from nova_usb.virt import guest as usb_guest  # noqa: E402
from nova_usb.virt import manager as usb_manager  # noqa: E402
from nova_usb_sandbox import umockdev as testbed_mod  # noqa: E402
from tests.e2e.guest import nested  # noqa: E402
from tests.fixtures import usbgen  # noqa: E402
from tests.integration import libvirtd  # noqa: E402

# Seven buses of 126 devices (and their root hubs): 581 that may be
# assigned (hubs may not), so that 500 servers hold one each and more are
# free.
DEVICES = 882
BUSES = (1, 2, 3, 4, 5, 6, 7)
HOLDERS = (1, 500)
CONTROLLER_MODEL = 'qemu-xhci'
XHCI = "<controller type='usb' index='0' model='qemu-xhci'/>"
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


def _median_ms(timings):
    return statistics.median(timings) * 1000


def interleaved(first, second, repetitions, warmup):
    """Time two callables in alternating order; timings of each."""
    timings = ([], [])
    for round_ in range(warmup + repetitions):
        order = [(0, first), (1, second)]
        if round_ % 2:
            order.reverse()
        for index, function in order:
            elapsed = function()
            if round_ >= warmup:
                timings[index].append(elapsed)
    return timings


def _timed(function, *args, **kwargs):
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


class Bench(object):
    """libvirtd, Nova's driver and database, the USB testbed; domains and
    servers.
    """

    def __init__(self, workdir):
        self.testbed = testbed_mod.Testbed()
        self.testbed.setUp()
        self.testbed.add_from_string(
            usbgen.populated_host(DEVICES, buses=BUSES).recording())
        self.state = libvirtd.state()
        if self.state.skip_reason:
            sys.exit('no libvirtd here: %s' % self.state.skip_reason)
        nova_db.use_sqlite(workdir)
        # Nova's libvirt driver with nova-usb's subclass, on
        # qemu:///system, as the e2e suite's driver-level tests make it;
        # it accepts every device ([usb] device_spec = {}).
        self.driver = nested.usb_driver()
        self.context = nova_context.get_admin_context()
        self.domains = []

    def domain(self, server, start):
        """A persistent domain for ``server`` (found by its uuid)."""
        root = etree.fromstring(libvirtd.domain_xml(
            libvirtd.PREFIX + server.uuid[:8], self.state.domain_type,
            devices=[XHCI]))
        etree.SubElement(root, 'uuid').text = server.uuid
        dom = self.state.conn.defineXML(etree.tostring(root,
                                                       encoding='unicode'))
        self.domains.append(dom)
        if start:
            dom.create()
        return dom

    def manager(self, host):
        """A UsbManager of ``host`` that has scanned the testbed, and the
        devices it may assign.
        """
        manager = usb_manager.UsbManager(self.driver, host)
        manager.inventory.scan()
        assignable = [d for d in manager.inventory.devices()
                      if devspec.unassignable_reason(manager.specs, d)
                      is None]
        return manager, assignable

    def close(self):
        for dom in self.domains:
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        nested.release_usb_driver(self.driver)
        self.testbed.cleanUp()


def live_attach(bench, repetitions, warmup):
    host = 'bench-host-live'
    server = nova_db.create_server(bench.context, host, 'active')
    dom = bench.domain(server, start=True)
    manager, assignable = bench.manager(host)
    device = assignable[0]
    hostdev_xml = usb_guest.make_hostdev(device, (0, '1')).to_xml()
    flags = (libvirt.VIR_DOMAIN_AFFECT_LIVE |
             libvirt.VIR_DOMAIN_AFFECT_CONFIG)

    def through_manager():
        started = time.perf_counter()
        try:
            manager.attach_device(bench.context, server, device.id)
        except exception.UsbHostRefused:
            return time.perf_counter() - started
        raise AssertionError('libvirt attached a device this kernel does '
                             'not have')

    def bare_libvirt():
        started = time.perf_counter()
        try:
            dom.attachDeviceFlags(hostdev_xml, flags)
        except libvirt.libvirtError:
            return time.perf_counter() - started
        raise AssertionError('libvirt attached a device this kernel does '
                             'not have')

    try:
        dom.attachDeviceFlags(hostdev_xml, flags)
    except libvirt.libvirtError as e:
        print('libvirt refuses the attach here with: %s' % e)
    timings = interleaved(through_manager, bare_libvirt, repetitions,
                          warmup)
    if manager.claims.snapshot() or server_requests.load(
            server_requests.read(bench.context, server.uuid)).devices:
        raise AssertionError('a refused attach left a claim or a request')
    return timings


def _host_with_holders(bench, host, holders):
    """A host whose ``holders`` servers each hold one of its devices, and
    a stopped server with a domain to attach one more to.
    """
    manager, assignable = bench.manager(host)
    system_metadatas = []
    for device in assignable[1:holders + 1]:
        system_metadata = {}
        usb_requests.store(system_metadata, usb_requests.UsbRequests(
            devices=(usb_requests.DeviceRequest(
                device.id, device.vendor_id, device.product_id),)))
        system_metadatas.append(system_metadata)
    nova_db.create_servers(bench.context, host, 'active', system_metadatas)
    # The claims, rebuilt from the stored requests as UsbManager.start()
    # does when nova-compute starts.
    for instance in server_requests.list_on_host(bench.context, host):
        for request in server_requests.load(instance).devices:
            manager.claims.claim(request.id, instance.uuid)
    if len(manager.claims.snapshot()) != holders:
        raise AssertionError('%d claims, not %d' % (
            len(manager.claims.snapshot()), holders))
    server = nova_db.create_server(bench.context, host, 'stopped')
    bench.domain(server, start=False)
    return manager, server, assignable[0].id


def claim_check(bench, repetitions, warmup):
    """attach_device on a stopped server with N other holders; each
    attach is undone (detach_device, untimed) before the next.
    """
    cases = [_host_with_holders(bench, 'bench-host-%d' % holders, holders)
             for holders in HOLDERS]

    def attach(manager, server, device_id):
        def timed():
            elapsed = _timed(manager.attach_device, bench.context, server,
                             device_id, CONTROLLER_MODEL)
            stored = server_requests.load(server_requests.read(
                bench.context, server.uuid))
            if [r.id for r in stored.devices] != [device_id]:
                raise AssertionError('the attach was not saved')
            manager.detach_device(bench.context, server, device_id)
            return elapsed
        return timed

    return interleaved(*[attach(*case) for case in cases],
                       repetitions=repetitions, warmup=warmup)


def database_parts(bench, repetitions):
    """Reading a server and saving its requests, each timed alone (what
    nova-usb does with the database in (a) and (b)).
    """
    server = nova_db.create_server(bench.context, 'bench-host-parts',
                                   'stopped')
    one = usb_requests.UsbRequests(devices=(usb_requests.DeviceRequest(
        '00000000-0000-0000-0000-000000000000', '1050', '0407'),))
    reads, saves = [], []
    for number in range(repetitions):
        # As a change does: the server read, then saved from that copy.
        began = time.perf_counter()
        read = server_requests.read(bench.context, server.uuid)
        reads.append(time.perf_counter() - began)
        saves.append(_timed(server_requests.save, bench.context, read,
                            one if number % 2 else
                            usb_requests.UsbRequests()))
    return reads, saves


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repetitions', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=3)
    args = parser.parse_args()

    _ensure_preloaded()

    workdir = tempfile.mkdtemp(prefix='nova-usb-bench-')
    bench = None
    try:
        bench = Bench(workdir)
        ours, bare = live_attach(bench, args.repetitions, args.warmup)
        few, many = claim_check(bench, args.repetitions, args.warmup)
        reads, saves = database_parts(bench, args.repetitions)
    finally:
        if bench is not None:
            bench.close()
        shutil.rmtree(workdir, ignore_errors=True)

    print('(a) live attach refused by libvirt (LIVE|CONFIG both ways), '
          '%d rounds each, interleaved' % args.repetitions)
    print('    through UsbManager:   median %8.3f ms' % _median_ms(ours))
    print('    bare libvirt call:    median %8.3f ms' % _median_ms(bare))
    print('    ratio ours/bare:      %.2f' % (
        statistics.median(ours) / statistics.median(bare)))
    print('(b) attach to a stopped server (%s port, saved to the '
          'database), %d rounds each, interleaved' % (
              CONTROLLER_MODEL, args.repetitions))
    print('    1 other holder:       median %8.3f ms' % _median_ms(few))
    print('    500 other holders:    median %8.3f ms' % _median_ms(many))
    print('    ratio 500/1:          %.2f' % (
        statistics.median(many) / statistics.median(few)))
    print('nova-usb and the database, each timed alone, %d rounds' %
          args.repetitions)
    print('    read a server:        median %8.3f ms  (1 per change, in (a) '
          'and (b))' % _median_ms(reads))
    print('    save its requests:    median %8.3f ms  (read again + '
          'Instance.save; 1 per change, in (b))' % _median_ms(saves))


if __name__ == '__main__':
    status = 1
    try:
        main()
        status = 0
    except SystemExit as e:
        if isinstance(e.code, str):
            sys.stderr.write(e.code + '\n')
        else:
            status = e.code or 0
    except BaseException:
        traceback.print_exc()
    finally:
        # Nova's libvirt driver leaves executor threads that never end,
        # and Nova's exit handler waits for them: stop the libvirtd this
        # process started (the exit handler of tests/integration/libvirtd),
        # then leave without waiting, as tests/e2e/guest/runner.py does.
        libvirtd._teardown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
