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
read and saved by nova-usb's own code), placement (the openstack-placement
WSGI application with its own SQLite database, served over HTTP on
127.0.0.1 from a thread of this process, benchmarks/placement_service.py;
nova-usb calls it through Nova's report client, given to the driver as
Nova's compute manager gives it) and the host's USB inventory
(HostUsbInventory reading, through libudev, a generated host of 889 USB
devices loaded into a umockdev testbed, as this kernel has no USB; the
script re-executes itself under umockdev-wrapper for that, and libvirtd
never runs under it). Each host is a compute node provider in placement
with its USB devices as child providers, reported as nova-compute
reports them, and each server has an allocation on its node.

(a) A change on a stopped server: an attach (asking for a qemu-xhci port)
    then its detach through UsbManager, against the same change made bare,
    on the same server and device, interleaved. Both sides leave the same
    state, checked after every attach and detach: the server's stored
    requests (system metadata, saved with Instance.save) and its
    allocation in placement (the device's unit added, then taken out,
    with a PUT of the allocation). The bare side does only the least work
    that gives that state: the server read once and saved, the allocation
    read once (for its consumer generation) and written. nova-usb adds
    Nova's lock, its checks, the port plan from the domain's persistent
    libvirt definition, the claim, the device's provider looked up, the
    reads a change repeats (the server before the save, the allocation
    inside Nova's report client) and, at the detach, the look at the
    definition: the ratio is what deciding costs over the same writes.
(b) An attach to a stopped server asking for a qemu-xhci port (as in (a),
    placement included), on a host where 1 other server holds a device,
    against one where 500 do (500 servers in the database, each with its
    device in its allocation, the claims rebuilt from them as
    nova-compute does at start-up). Claims are a dictionary and placement
    writes one consumer: it should stay flat.

Then reading a server, saving its requests, and nova-usb's two placement
changes (the device into and out of the allocation) are timed alone, to
show how much of (a) and (b) they are.

No live attach is measured here. This kernel has no USB subsystem, so
libvirt refuses every USB hot plug on it (``cannot open directory
'/sys/bus/usb/devices'``), nova-usb's and a bare attachDeviceFlags alike;
a refused call is not a baseline, and nova-usb's own undoing of the
refusal is not the work of an attach. The live attach and detach are
measured where they succeed, on the nested test host (usb_passthrough.py,
``tox -e e2e-bench``).

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

from lxml import etree  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova import objects  # noqa: E402

from benchmarks import nova_db  # noqa: E402
from benchmarks import placement_service  # noqa: E402
from nova_usb.db import requests as usb_requests  # noqa: E402
from nova_usb.db import server_requests  # noqa: E402
from nova_usb.virt import devspec  # noqa: E402
from nova_usb.virt import manager as usb_manager  # noqa: E402
from nova_usb.virt import placement  # noqa: E402
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
    """Call two callables in alternating order; what each returned (its
    timings), round by round.
    """
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


class Host(object):
    """A compute host: its UsbManager (which has scanned the testbed), the
    devices it may assign, its node provider in placement.
    """

    def __init__(self, bench, name):
        self.name = name
        self.manager = usb_manager.UsbManager(bench.driver, name)
        if self.manager.providers is None:
            raise AssertionError('UsbManager has no placement client')
        self.manager.inventory.scan()
        self.assignable = [
            d for d in self.manager.inventory.devices()
            if devspec.unassignable_reason(self.manager.specs, d) is None]
        self.node = bench.placement.add_node(bench.context, name)
        bench.placement.report_devices(bench.context, self.manager, name,
                                       self.node)

    def resource_class(self, device):
        return placement.resource_class(
            devspec.matching_spec(self.manager.specs, device), device)


class Bench(object):
    """libvirtd, Nova's driver and database, placement, the USB testbed;
    domains and servers.
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
        self.placement = placement_service.Placement(workdir)
        # Nova's libvirt driver with nova-usb's subclass, on
        # qemu:///system, as the e2e suite's driver-level tests make it;
        # it accepts every device ([usb] device_spec = {}). Its virtapi
        # carries Nova's report client, as nova-compute's does.
        self.driver = nested.usb_driver()
        self.driver.virtapi = self.placement.virtapi()
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

    def close(self):
        for dom in self.domains:
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        nested.release_usb_driver(self.driver)
        self.placement.stop()
        self.testbed.cleanUp()


def _state(bench, server):
    """What a change leaves: the server's system metadata as stored, and
    its allocation.
    """
    return (dict(server_requests.read(bench.context,
                                      server.uuid).system_metadata),
            bench.placement.allocations(server.uuid))


def change_on_stopped(bench, repetitions, warmup):
    """(a): attach + detach on a stopped server, through UsbManager and
    bare, interleaved; (attach, detach) seconds of each round, each side.
    """
    host = Host(bench, 'bench-host-change')
    manager = host.manager
    server = nova_db.create_server(bench.context, host.name, 'stopped')
    bench.domain(server, start=False)
    bench.placement.allocate_servers(host.node, [(server, [])])
    device = host.assignable[0]
    rc = host.resource_class(device)
    client = bench.placement.client
    context = bench.context

    # What nova-usb leaves, from one attach and detach (untimed): the
    # bare side must leave the same.
    before = _state(bench, server)
    manager.attach_device(context, server, device.id, CONTROLLER_MODEL)
    attached = _state(bench, server)
    requests_attached = usb_requests.load(attached[0])
    manager.detach_device(context, server, device.id)
    if _state(bench, server) != before:
        raise AssertionError('the detach did not undo the attach')
    if ([r.id for r in requests_attached.devices] != [device.id] or
            attached[1].get(device.id) != {rc: 1}):
        raise AssertionError('the attach was not saved and allocated: %s'
                             % (attached,))

    def check(side, step, expected):
        state = _state(bench, server)
        if state != expected:
            raise AssertionError('%s, after the %s: %s, not %s' % (
                side, step, state, expected))

    def through_manager():
        began = time.perf_counter()
        manager.attach_device(context, server, device.id, CONTROLLER_MODEL)
        attach = time.perf_counter() - began
        check('UsbManager', 'attach', attached)
        began = time.perf_counter()
        manager.detach_device(context, server, device.id)
        detach = time.perf_counter() - began
        check('UsbManager', 'detach', before)
        return attach, detach

    def bare_attach():
        # The allocation first, then the save, as nova-usb does.
        instance = objects.Instance.get_by_uuid(
            context, server.uuid, expected_attrs=['system_metadata'])
        system_metadata = dict(instance.system_metadata)
        usb_requests.store(system_metadata, requests_attached)
        instance.system_metadata = system_metadata
        allocation = client.get_allocs_for_consumer(context, server.uuid)
        allocation['allocations'][device.id] = {'resources': {rc: 1}}
        if not client.put_allocations(context, server.uuid, allocation):
            raise AssertionError('placement refused the allocation')
        instance.save(expected_task_state=[None])

    def bare_detach():
        # The save first, then the allocation, as nova-usb does.
        instance = objects.Instance.get_by_uuid(
            context, server.uuid, expected_attrs=['system_metadata'])
        system_metadata = dict(instance.system_metadata)
        usb_requests.store(system_metadata, usb_requests.UsbRequests())
        instance.system_metadata = system_metadata
        instance.save(expected_task_state=[None])
        allocation = client.get_allocs_for_consumer(context, server.uuid)
        del allocation['allocations'][device.id]
        if not client.put_allocations(context, server.uuid, allocation):
            raise AssertionError('placement refused the allocation')

    def bare():
        attach = _timed(bare_attach)
        check('bare', 'attach', attached)
        detach = _timed(bare_detach)
        check('bare', 'detach', before)
        return attach, detach

    timings = interleaved(through_manager, bare, repetitions, warmup)
    return timings, host, server


def _host_with_holders(bench, name, holders):
    """A host whose ``holders`` servers each hold one of its devices (in
    their stored requests and their allocations), and a stopped server
    with a domain and an allocation to attach one more to.
    """
    host = Host(bench, name)
    manager = host.manager
    system_metadatas = []
    held = host.assignable[1:holders + 1]
    for device in held:
        system_metadata = {}
        usb_requests.store(system_metadata, usb_requests.UsbRequests(
            devices=(usb_requests.DeviceRequest(
                device.id, device.vendor_id, device.product_id),)))
        system_metadatas.append(system_metadata)
    servers = nova_db.create_servers(bench.context, name, 'active',
                                     system_metadatas)
    # The claims, rebuilt from the stored requests as UsbManager.start()
    # does when nova-compute starts.
    for instance in server_requests.list_on_host(bench.context, name):
        for request in server_requests.load(instance).devices:
            manager.claims.claim(request.id, instance.uuid)
    if len(manager.claims.snapshot()) != holders:
        raise AssertionError('%d claims, not %d' % (
            len(manager.claims.snapshot()), holders))
    server = nova_db.create_server(bench.context, name, 'stopped')
    bench.domain(server, start=False)
    bench.placement.allocate_servers(host.node, [
        (holder, [(device.id, host.resource_class(device))])
        for holder, device in zip(servers, held)] + [(server, [])])
    return manager, server, host.assignable[0].id


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
            if device_id not in bench.placement.allocations(server.uuid):
                raise AssertionError('the attach was not allocated')
            manager.detach_device(bench.context, server, device_id)
            return elapsed
        return timed

    return interleaved(*[attach(*case) for case in cases],
                       repetitions=repetitions, warmup=warmup)


def parts(bench, host, server, repetitions):
    """Reading a server, saving its requests, the device into and out of
    its allocation (nova-usb's DeviceProviders), each timed alone.
    """
    one = usb_requests.UsbRequests(devices=(usb_requests.DeviceRequest(
        '00000000-0000-0000-0000-000000000000', '1050', '0407'),))
    providers = host.manager.providers
    device_id = host.assignable[0].id
    reads, saves, allocates, frees = [], [], [], []
    for number in range(repetitions):
        # As a change does: the server read, then saved from that copy.
        began = time.perf_counter()
        read = server_requests.read(bench.context, server.uuid)
        reads.append(time.perf_counter() - began)
        saves.append(_timed(server_requests.save, bench.context, read,
                            one if number % 2 else
                            usb_requests.UsbRequests()))
        allocates.append(_timed(providers.allocate, bench.context,
                                device_id, server.uuid))
        frees.append(_timed(providers.free, bench.context, device_id,
                            server.uuid))
    if device_id in bench.placement.allocations(server.uuid):
        raise AssertionError('the device is still allocated')
    return reads, saves, allocates, frees


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
        (ours, bare), host, server = change_on_stopped(
            bench, args.repetitions, args.warmup)
        few, many = claim_check(bench, args.repetitions, args.warmup)
        reads, saves, allocates, frees = parts(bench, host, server,
                                               args.repetitions)
    finally:
        if bench is not None:
            bench.close()
        shutil.rmtree(workdir, ignore_errors=True)

    def medians(timings, step):
        return statistics.median(t[step] for t in timings) * 1000

    def both(timings):
        return statistics.median(sum(t) for t in timings) * 1000

    print('(a) attach + detach on a stopped server (%s port; requests '
          'saved, allocation PUT), %d rounds each, interleaved' % (
              CONTROLLER_MODEL, args.repetitions))
    print('                          attach    detach      both  (median '
          'ms)')
    for name, timings in (('through UsbManager:', ours),
                          ('same writes, bare:', bare)):
        print('    %-18s %9.3f %9.3f %9.3f' % (
            name, medians(timings, 0), medians(timings, 1), both(timings)))
    print('    ratio ours/bare:      attach %.2f, detach %.2f, both %.2f'
          % (medians(ours, 0) / medians(bare, 0),
             medians(ours, 1) / medians(bare, 1), both(ours) / both(bare)))
    print('(b) attach to a stopped server (%s port, saved to the '
          'database, allocation PUT), %d rounds each, interleaved' % (
              CONTROLLER_MODEL, args.repetitions))
    print('    1 other holder:       median %8.3f ms' % _median_ms(few))
    print('    500 other holders:    median %8.3f ms' % _median_ms(many))
    print('    ratio 500/1:          %.2f' % (
        statistics.median(many) / statistics.median(few)))
    print('nova-usb\'s database and placement work, each timed alone, %d '
          'rounds' % args.repetitions)
    print('    read a server:        median %8.3f ms  (2 per change: the '
          'change\'s, the save\'s)' % _median_ms(reads))
    print('    save its requests:    median %8.3f ms  (read again + '
          'Instance.save; 1 per change)' % _median_ms(saves))
    print('    device into its allocation: median %8.3f ms  (1 per attach)'
          % _median_ms(allocates))
    print('    device out of it:     median %8.3f ms  (1 per detach)'
          % _median_ms(frees))


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
