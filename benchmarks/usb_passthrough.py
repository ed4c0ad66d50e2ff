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

"""(d) A real USB passthrough: nova-usb's live attach + detach against bare
``virsh attach-device --live`` / ``detach-device --live``.

It runs on the nested test host (a kernel with USB, real libvirtd, a
running diskless guest), where a stick really goes into the guest's QEMU
and comes back. Each round, alternating which goes first, passes the same
stick through both ways:

* nova-usb: ``UsbManager.attach_device`` then ``detach_device`` (state and
  claim checks, port model from the live XML, libvirt's attach, system
  metadata; the detach waits for libvirt's device-removed event as Nova
  does);
* bare virsh: ``virsh attach-device DOM FILE --live`` with the hostdev
  XML nova-usb would write, then ``virsh detach-device DOM FILE --live``
  and waiting until the live XML no longer has it;
* bare API: the same two calls through libvirt-python in this process
  (``attachDeviceFlags``/``detachDeviceFlags`` with AFFECT_LIVE), which
  leaves out virsh's own start and connection: the floor.

Each round checks that the stick was in the guest's QEMU (``info usb``)
after every attach. Medians of attach, detach and their sum are printed
with the ratios nova-usb / bare virsh and nova-usb / bare API.

Run it (root; builds and boots the nested host, as ``tox -e e2e``)::

    tox -e e2e-bench        # or: python -m tests.e2e.run --benchmark
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from unittest import mock

from tests.fixtures import polling

STICK_SERIAL = 'NOVAUSB-A'
ROUNDS = 7


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='usb_passthrough.py')
    parser.add_argument('--rounds', type=int, default=ROUNDS)
    return parser.parse_args(argv)


def _virsh(*args):
    subprocess.run(('virsh', '-c', 'qemu:///system') + args, check=True,
                   capture_output=True)


def _wait_gone(dom, alias, nested):
    polling.wait_for(
        lambda: all(a != alias for a, _, _ in nested.hostdevs(
            dom.XMLDesc(0))), 'the stick leaving the guest', 60,
        interval=0.05)


def main(argv):
    args = parse_args(argv)
    import libvirt
    from nova import context as nova_context

    from nova_usb.virt import guest as usb_guest
    from nova_usb.virt import manager as usb_manager
    from tests.e2e.guest import nested

    driver = nested.usb_driver()
    conn = nested.connect()
    manager = usb_manager.UsbManager(driver, nested.HOST)
    manager.watcher.start()
    instances = {}
    instance = nested.stand_in_instance('active', instances)
    dom = conn.defineXML(nested.domain_xml('bench', [nested.xhci()],
                                           domain_uuid=instance.uuid))
    dom.create()
    context = nova_context.get_admin_context()
    stick = next(d for d in manager.inventory.devices()
                 if d.serial == STICK_SERIAL)
    alias = usb_guest.device_alias(stick.id)
    ways = ('nova-usb', 'bare virsh', 'bare API')
    timings = {(way, step): [] for way in ways
               for step in ('attach', 'detach')}

    def in_guest():
        return alias in [d['id'] for d in nested.info_usb(dom)[0]]

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
        return ok

    with tempfile.NamedTemporaryFile('w', suffix='.xml') as xml:
        # The stick's bus/device numbers stay as long as it is not
        # replugged: one hostdev XML for every round.
        xml.write(usb_guest.make_hostdev(stick).to_xml())
        xml.flush()

        def bare(way, attach, detach):
            began = time.perf_counter()
            attach()
            attached = time.perf_counter()
            ok = in_guest()
            detach_began = time.perf_counter()
            detach()
            _wait_gone(dom, alias, nested)
            timings[way, 'attach'].append(attached - began)
            timings[way, 'detach'].append(time.perf_counter() -
                                          detach_began)
            return ok

        hostdev_xml = usb_guest.make_hostdev(stick).to_xml()
        live = libvirt.VIR_DOMAIN_AFFECT_LIVE

        def bare_virsh():
            return bare(
                'bare virsh',
                lambda: _virsh('attach-device', dom.name(), xml.name,
                               '--live'),
                lambda: _virsh('detach-device', dom.name(), xml.name,
                               '--live'))

        def bare_api():
            return bare(
                'bare API',
                lambda: dom.attachDeviceFlags(hostdev_xml, live),
                lambda: dom.detachDeviceFlags(hostdev_xml, live))

        with mock.patch('nova_usb.db.server_requests.read',
                        lambda c, i: instance):
            order = [through_nova_usb, bare_virsh, bare_api]
            for number in range(args.rounds):
                # Each way goes first, second and last in turn.
                order = order[1:] + order[:1]
                for way in order:
                    if not way():
                        raise RuntimeError('%s: the stick was not in the '
                                           'guest' % way.__name__)
    manager.watcher.stop()
    dom.destroy()
    dom.undefine()

    lines = ['(d) live USB passthrough on the nested host, %d rounds '
             '(stick %s behind a hub)' % (args.rounds, STICK_SERIAL)]

    def median(way, step):
        return statistics.median(timings[way, step])

    def both(way):
        return median(way, 'attach') + median(way, 'detach')

    lines.append('  %-7s %9s %11s %9s   %14s %12s' % (
        '', 'nova-usb', 'bare virsh', 'bare API', 'ratio to virsh',
        'ratio to API'))
    for step in ('attach', 'detach', 'both'):
        got = {way: both(way) if step == 'both' else median(way, step)
               for way in ways}
        lines.append('  %-7s %7.3f s %9.3f s %7.3f s   %14.2f %12.2f' % (
            step, got['nova-usb'], got['bare virsh'], got['bare API'],
            got['nova-usb'] / got['bare virsh'],
            got['nova-usb'] / got['bare API']))
    report = '\n'.join(lines) + '\n'
    print(report)
    out = os.environ.get('NOVA_USB_E2E_OUT')
    if out:
        with open(os.path.join(out, 'benchmark.txt'), 'w') as output:
            output.write(report)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
