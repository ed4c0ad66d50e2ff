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
same libvirt calls made bare.

It runs on the nested test host (a kernel with USB, real libvirtd, a
running diskless guest with a persistent definition), where a stick
really goes into the guest's QEMU and comes back. Each round passes the
same stick through four ways, each going first, second, third and last in
turn:

* nova-usb: ``UsbManager.attach_device`` then ``detach_device`` on a real
  server: an Instance in Nova's database (SQLite with Nova's schema,
  benchmarks/nova_db.py), read and saved through Nova's objects, nothing
  mocked. Each change takes Nova's lock of the server, reads it from the
  database, checks state, device and claim, plans the port from the live
  XML, calls libvirt with AFFECT_LIVE|AFFECT_CONFIG (through Nova's
  libvirt driver, whose detach waits for libvirt's device-removed event),
  and saves the server's requests to the database (timed with the rest);
* its libvirt calls alone: the same attach and detach through
  ``UsbGuest`` (nova-usb's adapter of Nova's libvirt ``Guest``, and Nova's
  detach that waits for the event), without the database, locks, checks
  and port model: what calling libvirt through Nova's driver costs;
* bare virsh: ``virsh attach-device DOM FILE --live --config`` with the
  hostdev XML nova-usb writes, then ``virsh detach-device DOM FILE --live
  --config`` and waiting for libvirt's device-removed event;
* bare API: the same two calls through libvirt-python in this process
  (``attachDeviceFlags``/``detachDeviceFlags`` with
  AFFECT_LIVE|AFFECT_CONFIG, then the same event), which leaves out
  virsh's process start and connection: the floor.

Every way changes the live domain and its persistent definition alike and
waits for the same event; each round checks that the stick was in the
guest's QEMU (``info usb``) after every attach, and gone from both
definitions (and, for nova-usb, from the stored requests) after every
detach. Medians of attach, detach and their sum are printed for each
way, with the ratios of the sums to bare virsh and to the bare API, then
the parts of nova-usb's extra time measured alone (database, live XML).

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

    from benchmarks import nova_db
    from nova_usb.db import server_requests
    from nova_usb.virt import guest as usb_guest
    from nova_usb.virt import manager as usb_manager
    from tests.e2e.guest import nested

    # The driver first: it registers libvirt's event loop, which the
    # bare ways' connection needs for the device-removed event.
    driver = nested.usb_driver()
    nova_db.use_sqlite(workdir)
    context = nova_context.get_admin_context()
    conn = nested.connect()
    manager = usb_manager.UsbManager(driver, nested.HOST)
    manager.watcher.start()
    instance = nova_db.create_server(context, nested.HOST, 'active')
    dom = conn.defineXML(nested.domain_xml('bench', [nested.xhci()],
                                           domain_uuid=instance.uuid))
    dom.create()
    stick = next(d for d in manager.inventory.devices()
                 if d.serial == STICK_SERIAL)
    alias = usb_guest.device_alias(stick.id)
    ways = ('nova-usb', 'libvirt part', 'bare virsh', 'bare API')
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

    def through_nova_usb():
        began = time.perf_counter()
        manager.attach_device(context, instance, stick.id)
        attached = time.perf_counter()
        ok = in_guest()
        detach_began = time.perf_counter()
        manager.detach_device(context, instance, stick.id)
        timings['nova-usb', 'attach'].append(attached - began)
        timings['nova-usb', 'detach'].append(time.perf_counter() -
                                             detach_began)
        stored = server_requests.load(server_requests.read(
            context, instance.uuid))
        return ok and gone() and not stored.devices

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

        order = [through_nova_usb, libvirt_part, bare_virsh, bare_api]
        for number in range(args.rounds):
            # Each way goes first, second, third and last in turn.
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
    parts = {'read': [], 'save': [], 'topology': [], 'hostdevs': []}
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
    server_requests.save(context, server_requests.read(
        context, instance.uuid), usb_requests.UsbRequests())
    return {name: _median(values) for name, values in parts.items()}


NAMES = {'nova-usb': 'nova-usb (UsbManager)',
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

    lines.append('  %-30s %9s %9s %9s %9s %7s' % (
        'medians', 'attach', 'detach', 'both', 'to virsh', 'to API'))
    for way in ways:
        lines.append('  %-30s %7.3f s %7.3f s %7.3f s %9.2f %7.2f' % (
            NAMES[way], median(way, 'attach'), median(way, 'detach'),
            both(way), both(way) / both('bare virsh'),
            both(way) / both('bare API')))
    lines.append('  nova-usb / bare API: attach %.2f, detach %.2f' % (
        median('nova-usb', 'attach') / median('bare API', 'attach'),
        median('nova-usb', 'detach') / median('bare API', 'detach')))
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
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
