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

"""(d) A real USB passthrough: nova-usb's live attach + detach against the
same change made bare, and against the same libvirt calls made bare.

It runs on the nested test host (a kernel with USB, real libvirtd, a
running diskless guest with a persistent definition), where a stick
really goes into the guest's QEMU and comes back. The server is an
Instance in Nova's database (SQLite with Nova's schema,
benchmarks/nova_db.py, read and saved through Nova's objects), and there
is a real placement in this process (the openstack-placement WSGI
application with its own SQLite database, over HTTP on 127.0.0.1,
benchmarks/placement_service.py): the host is a compute node provider
with its USB devices as child providers, reported as nova-compute reports
them, the server has an allocation on it, and nova-usb's driver has
Nova's report client where nova-compute's manager gives it. Nothing is
mocked. Each round passes the same stick through five ways, each going
first, second, ... and last in turn:

* nova-usb: ``UsbManager.attach_device`` then ``detach_device``. Each
  change takes Nova's lock of the server, reads it from the database,
  checks state, device and claim, puts the stick into the server's
  allocation in placement (takes it out after a detach), plans the port
  from the live XML, calls libvirt with AFFECT_LIVE|AFFECT_CONFIG (through
  Nova's libvirt driver, whose detach waits for libvirt's device-removed
  event), and saves the server's requests to the database, all timed;
* the same change, bare: the same libvirt calls through libvirt-python
  (``attachDeviceFlags``/``detachDeviceFlags``, AFFECT_LIVE|AFFECT_CONFIG,
  the detach waiting for the same event), the same requests stored
  (the server read once and saved with ``Instance.save``) and the same
  allocation written (read once for its consumer generation, then PUT),
  in nova-usb's order, with the hostdev XML nova-usb writes on the port it
  picks: what the change needs done, without deciding anything;
* its libvirt calls alone: the same attach and detach through
  ``UsbGuest`` (nova-usb's adapter of Nova's libvirt ``Guest``, and Nova's
  detach that waits for the event), without the database, placement,
  locks, checks and port model: what calling libvirt through Nova's
  driver costs;
* bare virsh: ``virsh attach-device DOM FILE --live --config`` with the
  hostdev XML nova-usb writes, then ``virsh detach-device DOM FILE --live
  --config`` and waiting for libvirt's device-removed event;
* bare API: the same two calls through libvirt-python in this process,
  then the same event, which leaves out virsh's process start and
  connection: the floor of the libvirt work alone.

Every way changes the live domain and its persistent definition alike and
waits for the same event; each round checks that the stick was in the
guest's QEMU (``info usb``) after every attach, and gone from both
definitions after every detach; for nova-usb and the same change bare,
that the stored requests and the allocation held the stick after the
attach (the same requests both ways) and no longer after the detach.
Medians of attach, detach and their sum are printed for each way, with
the ratios of the sums to the same change bare (like for like: the same
libvirt calls, database writes and placement writes), to bare virsh and to
the bare API (libvirt alone: these ratios also count nova-usb's database
and placement work, which those two ways do not do), then the parts of
nova-usb's extra time measured alone (database, placement, live XML).

Run it (root; builds and boots the nested host, as ``tox -e e2e``)::

    tox -e e2e-bench        # or: python -m tests.e2e.run --benchmark
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

STICK_SERIAL = 'NOVAUSB-A'
ROUNDS = 7
PARTS_ROUNDS = 7
EVENT_TIMEOUT = 60


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='usb_passthrough.py')
    parser.add_argument('--rounds', type=int, default=ROUNDS)
    return parser.parse_args(argv)


def _virsh(*args):
    subprocess.run(('virsh', '-c', 'qemu:///system') + args, check=True,
                   capture_output=True)


def _median(timings):
    return statistics.median(timings)


def main(argv):
    args = parse_args(argv)
    workdir = tempfile.mkdtemp(prefix='nova-usb-bench-')
    try:
        return _run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(args, workdir):
    import libvirt
    from nova import context as nova_context

    from nova import objects

    from benchmarks import nova_db
    from benchmarks import placement_service
    from nova_usb.db import requests as usb_requests
    from nova_usb.db import server_requests
    from nova_usb.virt import devspec
    from nova_usb.virt import guest as usb_guest
    from nova_usb.virt import manager as usb_manager
    from nova_usb.virt import placement as usb_placement
    from tests.e2e.guest import nested

    # The driver first: it registers libvirt's event loop, which the
    # bare ways' connection needs for the device-removed event.
    driver = nested.usb_driver()
    nova_db.use_sqlite(workdir)
    placement = placement_service.Placement(workdir)
    # Nova's report client, where nova-compute's manager gives it.
    driver.virtapi = placement.virtapi()
    context = nova_context.get_admin_context()
    conn = nested.connect()
    manager = usb_manager.UsbManager(driver, nested.HOST)
    if manager.providers is None:
        raise RuntimeError('UsbManager has no placement client')
    manager.watcher.start()
    node = placement.add_node(context, nested.HOST)
    placement.report_devices(context, manager, nested.HOST, node)
    instance = nova_db.create_server(context, nested.HOST, 'active')
    placement.allocate_servers(node, [(instance, [])])
    dom = conn.defineXML(nested.domain_xml('bench', [nested.xhci()],
                                           domain_uuid=instance.uuid))
    dom.create()
    stick = next(d for d in manager.inventory.devices()
                 if d.serial == STICK_SERIAL)
    alias = usb_guest.device_alias(stick.id)
    rc = usb_placement.resource_class(
        devspec.matching_spec(manager.specs, stick), stick)
    ways = ('nova-usb', 'same change bare', 'libvirt part', 'bare virsh',
            'bare API')
    timings = {(way, step): [] for way in ways
               for step in ('attach', 'detach')}

    removed = threading.Event()

    def on_removed(conn, dom, device_alias, opaque):
        if device_alias == alias:
            removed.set()

    callback = conn.domainEventRegisterAny(
        dom, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, on_removed, None)

    def in_guest():
        return alias in [d['id'] for d in nested.info_usb(dom)[0]]

    def gone():
        """The stick is in neither definition of the domain."""
        return not any(
            a == alias for flags in (0, libvirt.VIR_DOMAIN_XML_INACTIVE)
            for a, _, _ in nested.hostdevs(dom.XMLDesc(flags)))

    def recorded():
        """The server's stored requests, and whether the stick is in its
        allocation.
        """
        return (server_requests.load(server_requests.read(
            context, instance.uuid)),
            stick.id in placement.allocations(instance.uuid))

    # What nova-usb stores for the stick, from one attach and detach
    # (untimed): the same change bare stores the same.
    manager.attach_device(context, instance, stick.id)
    wanted, allocated = recorded()
    manager.detach_device(context, instance, stick.id)
    if [r.id for r in wanted.devices] != [stick.id] or not allocated:
        raise RuntimeError('nova-usb\'s attach did not store the stick '
                           'and allocate it: %s' % (wanted,))
    if recorded() != (usb_requests.UsbRequests(), False) or not gone():
        raise RuntimeError('nova-usb\'s detach did not undo its attach')

    def through_nova_usb():
        began = time.perf_counter()
        manager.attach_device(context, instance, stick.id)
        attached = time.perf_counter()
        ok = in_guest() and recorded() == (wanted, True)
        detach_began = time.perf_counter()
        manager.detach_device(context, instance, stick.id)
        timings['nova-usb', 'attach'].append(attached - began)
        timings['nova-usb', 'detach'].append(time.perf_counter() -
                                             detach_began)
        return (ok and gone() and
                recorded() == (usb_requests.UsbRequests(), False))

    with tempfile.NamedTemporaryFile('w', suffix='.xml') as xml:
        # The hostdev XML nova-usb writes, on the port it picks (the first
        # free one); the stick's bus/device numbers stay as long as it is
        # not replugged: one XML for every round.
        topology = usb_guest.UsbGuest(driver, instance).topology()
        port = topology.next_free_port(None)
        hostdev_xml = usb_guest.make_hostdev(stick, port).to_xml()
        xml.write(hostdev_xml)
        xml.flush()

        def bare(way, attach, detach):
            began = time.perf_counter()
            attach()
            attached = time.perf_counter()
            ok = in_guest()
            removed.clear()
            detach_began = time.perf_counter()
            detach()
            if not removed.wait(EVENT_TIMEOUT):
                raise RuntimeError('%s: libvirt sent no device-removed '
                                   'event in %d s' % (way, EVENT_TIMEOUT))
            timings[way, 'attach'].append(attached - began)
            timings[way, 'detach'].append(time.perf_counter() -
                                          detach_began)
            return ok and gone()

        both = (libvirt.VIR_DOMAIN_AFFECT_LIVE |
                libvirt.VIR_DOMAIN_AFFECT_CONFIG)

        usb = usb_guest.UsbGuest(driver, instance)
        hostdev = usb_guest.make_hostdev(stick, port)

        def libvirt_part():
            began = time.perf_counter()
            usb.attach(hostdev)
            attached = time.perf_counter()
            ok = in_guest()
            detach_began = time.perf_counter()
            usb.detach(stick.id)
            timings['libvirt part', 'attach'].append(attached - began)
            timings['libvirt part', 'detach'].append(time.perf_counter() -
                                                     detach_began)
            return ok and gone()

        def bare_virsh():
            return bare(
                'bare virsh',
                lambda: _virsh('attach-device', dom.name(), xml.name,
                               '--live', '--config'),
                lambda: _virsh('detach-device', dom.name(), xml.name,
                               '--live', '--config'))

        def bare_api():
            return bare(
                'bare API',
                lambda: dom.attachDeviceFlags(hostdev_xml, both),
                lambda: dom.detachDeviceFlags(hostdev_xml, both))

        client = placement.client

        def read_server():
            return objects.Instance.get_by_uuid(
                context, instance.uuid, expected_attrs=['system_metadata'])

        def store(server, requests):
            system_metadata = dict(server.system_metadata)
            usb_requests.store(system_metadata, requests)
            server.system_metadata = system_metadata
            server.save(expected_task_state=[None])

        def put_allocation(change):
            allocation = client.get_allocs_for_consumer(context,
                                                        instance.uuid)
            change(allocation['allocations'])
            if not client.put_allocations(context, instance.uuid,
                                          allocation):
                raise RuntimeError('placement refused the allocation')

        def same_attach():
            # nova-usb's order: the allocation, libvirt, the save.
            server = read_server()
            put_allocation(lambda a: a.update(
                {stick.id: {'resources': {rc: 1}}}))
            dom.attachDeviceFlags(hostdev_xml, both)
            store(server, wanted)

        def same_detach():
            # nova-usb's order: libvirt (and its event), the save, the
            # allocation.
            server = read_server()
            removed.clear()
            dom.detachDeviceFlags(hostdev_xml, both)
            if not removed.wait(EVENT_TIMEOUT):
                raise RuntimeError('same change bare: libvirt sent no '
                                   'device-removed event in %d s'
                                   % EVENT_TIMEOUT)
            store(server, usb_requests.UsbRequests())
            put_allocation(lambda a: a.pop(stick.id))

        def same_change_bare():
            began = time.perf_counter()
            same_attach()
            attached = time.perf_counter()
            ok = in_guest() and recorded() == (wanted, True)
            detach_began = time.perf_counter()
            same_detach()
            timings['same change bare', 'attach'].append(attached - began)
            timings['same change bare', 'detach'].append(
                time.perf_counter() - detach_began)
            return (ok and gone() and
                    recorded() == (usb_requests.UsbRequests(), False))

        order = [through_nova_usb, same_change_bare, libvirt_part,
                 bare_virsh, bare_api]
        for number in range(args.rounds):
            # Each way goes first, second, ... and last in turn.
            order = order[1:] + order[:1]
            for way in order:
                if not way():
                    raise RuntimeError('%s: the stick was not in the guest '
                                       'after the attach, or not gone after '
                                       'the detach' % way.__name__)
    parts = _parts(context, driver, instance, manager, stick)
    conn.domainEventDeregisterAny(callback)
    manager.watcher.stop()
    dom.destroy()
    dom.undefine()
    nested.release_usb_driver(driver)
    placement.stop()
    report = _report(args.rounds, timings, ways, parts)
    print(report)
    out = os.environ.get('NOVA_USB_E2E_OUT')
    if out:
        with open(os.path.join(out, 'benchmark.txt'), 'w') as output:
            output.write(report)
    return 0


def _parts(context, driver, instance, manager, stick):
    """Parts of nova-usb's work, each timed alone (medians, seconds)."""
    from nova_usb.db import requests as usb_requests
    from nova_usb.db import server_requests
    from nova_usb.virt import guest as usb_guest

    with_stick = usb_requests.UsbRequests(devices=(
        usb_requests.DeviceRequest(stick.id, stick.vendor_id,
                                   stick.product_id),))
    parts = {'read': [], 'save': [], 'topology': [], 'hostdevs': [],
             'allocate': [], 'free': []}
    for number in range(PARTS_ROUNDS):
        began = time.perf_counter()
        server = server_requests.read(context, instance.uuid)
        parts['read'].append(time.perf_counter() - began)
        began = time.perf_counter()
        server_requests.save(context, server, with_stick if number % 2
                             else usb_requests.UsbRequests())
        parts['save'].append(time.perf_counter() - began)
        guest = usb_guest.UsbGuest(driver, server)
        began = time.perf_counter()
        guest.topology()
        parts['topology'].append(time.perf_counter() - began)
        began = time.perf_counter()
        guest.hostdev(stick.id)
        guest.hostdev(stick.id, persistent=True)
        parts['hostdevs'].append(time.perf_counter() - began)
        began = time.perf_counter()
        manager.providers.allocate(context, stick.id, instance.uuid)
        parts['allocate'].append(time.perf_counter() - began)
        began = time.perf_counter()
        manager.providers.free(context, stick.id, instance.uuid)
        parts['free'].append(time.perf_counter() - began)
    server_requests.save(context, server_requests.read(
        context, instance.uuid), usb_requests.UsbRequests())
    return {name: _median(values) for name, values in parts.items()}


NAMES = {'nova-usb': 'nova-usb (UsbManager)',
         'same change bare': 'same change, bare',
         'libvirt part': 'its libvirt calls (UsbGuest)',
         'bare virsh': 'bare virsh',
         'bare API': 'bare API (libvirt-python)'}


def _report(rounds, timings, ways, parts):
    lines = ['(d) live USB passthrough on the nested host, %d rounds '
             '(stick %s behind a hub), LIVE|CONFIG every way' % (
                 rounds, STICK_SERIAL)]

    def median(way, step):
        return _median(timings[way, step])

    def both(way):
        return median(way, 'attach') + median(way, 'detach')

    lines.append('  %-30s %9s %9s %9s %8s %9s %7s' % (
        'medians', 'attach', 'detach', 'both', 'to same', 'to virsh',
        'to API'))
    for way in ways:
        lines.append('  %-30s %7.3f s %7.3f s %7.3f s %8.2f %9.2f %7.2f' % (
            NAMES[way], median(way, 'attach'), median(way, 'detach'),
            both(way), both(way) / both('same change bare'),
            both(way) / both('bare virsh'), both(way) / both('bare API')))
    for baseline in ('same change bare', 'bare API'):
        lines.append('  nova-usb / %s: attach %.2f, detach %.2f' % (
            NAMES[baseline],
            median('nova-usb', 'attach') / median(baseline, 'attach'),
            median('nova-usb', 'detach') / median(baseline, 'detach')))
    lines.append('  nova-usb\'s parts, each timed alone (medians of %d):'
                 % PARTS_ROUNDS)
    lines.append('    read the server (Instance.get_by_uuid)  %7.3f s  '
                 '(1 per attach or detach)' % parts['read'])
    lines.append('    save its requests (read again + save)   %7.3f s  '
                 '(1 per attach or detach)' % parts['save'])
    lines.append('    live XML and port model (topology)      %7.3f s  '
                 '(1 per attach)' % parts['topology'])
    lines.append('    find the hostdev in live + persistent   %7.3f s  '
                 '(1 per detach before Nova\'s own look-ups)'
                 % parts['hostdevs'])
    lines.append('    stick into the allocation (placement)   %7.3f s  '
                 '(1 per attach)' % parts['allocate'])
    lines.append('    stick out of the allocation             %7.3f s  '
                 '(1 per detach)' % parts['free'])
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
