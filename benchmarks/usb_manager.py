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

"""The compute side's USB checks, against baselines measured in the same run.

(a) A live attach through UsbManager against the bare libvirt call, on a
    real running domain of a real libvirtd. This kernel has no USB, so
    libvirt refuses both at the same point: the ratio is what nova-usb's
    checks, port model and XML add in front of libvirt, not the cost of a
    passthrough.
(b) The claim check of an attach (state, device, spec, holder, ports) on a
    host with 1 server holding devices against one with 500: it should stay
    flat.

Run from the top of the repository (root: it uses qemu:///system, starting
libvirtd when it is not running and stopping what it started)::

    python benchmarks/usb_manager.py
"""

import argparse
import os
import statistics
import sys
import time
from unittest import mock
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
os.environ.setdefault('OS_NOVA_DISABLE_EVENTLET_PATCHING', '1')

# Nova's concurrency mode is chosen before anything imports eventlet.
import tests  # noqa: E402,F401,I100

import libvirt  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova import objects  # noqa: E402

from nova_usb import conf as nova_usb_conf  # noqa: E402
from nova_usb import exception  # noqa: E402
from nova_usb.virt import guest as usb_guest  # noqa: E402
from nova_usb.virt import manager as usb_manager  # noqa: E402
from tests.integration import libvirtd  # noqa: E402
from tests.integration import test_manager_libvirt as helpers  # noqa: E402

CONF = nova_usb_conf.CONF


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
            started = time.perf_counter()
            function()
            if round_ >= warmup:
                timings[index].append(time.perf_counter() - started)
    return timings


def instance(vm_state, host=helpers.HOST):
    return objects.Instance(uuid=str(uuid.uuid4()), vm_state=vm_state,
                            task_state=None, host=host, system_metadata={})


def live_attach(repetitions, warmup):
    state = libvirtd.state()
    if state.skip_reason:
        sys.exit('no libvirtd here: %s' % state.skip_reason)
    name = libvirtd.PREFIX + 'bench'
    dom = state.conn.createXML(libvirtd.domain_xml(
        name, state.domain_type, devices=[
            "<controller type='usb' index='0' model='qemu-xhci'/>"]), 0)
    try:
        manager = usb_manager.UsbManager(helpers._Driver(dom), helpers.HOST)
        manager.inventory = helpers.FixedInventory(
            [helpers.made_up_device('1-3', 9, 'YK-BENCH')])
        device = manager.inventory.devices()[0]
        server = instance('active')
        hostdev_xml = usb_guest.make_hostdev(device, (0, '1')).to_xml()
        context = nova_context.get_admin_context()

        def through_manager():
            try:
                manager.attach_device(context, server, device.id)
            except exception.UsbHostRefused:
                return
            raise AssertionError('libvirt attached a device this kernel '
                                 'does not have')

        def bare_libvirt():
            try:
                dom.attachDeviceFlags(
                    hostdev_xml, libvirt.VIR_DOMAIN_AFFECT_LIVE |
                    libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            except libvirt.libvirtError:
                return
            raise AssertionError('libvirt attached a device this kernel '
                                 'does not have')

        try:
            dom.attachDeviceFlags(hostdev_xml,
                                  libvirt.VIR_DOMAIN_AFFECT_LIVE)
        except libvirt.libvirtError as e:
            print('libvirt refuses the attach here with: %s' % e)
        with mock.patch('nova_usb.db.server_requests.read',
                        lambda c, i: server):
            return interleaved(through_manager, bare_libvirt, repetitions,
                               warmup)
    finally:
        dom.destroy()


def claim_check(servers, repetitions):
    """attach_device on a stopped server, saving nothing, with N holders."""
    devices = [helpers.made_up_device('1-%d' % (n + 1), n + 2, 'S%d' % n)
               for n in range(servers + 1)]
    manager = usb_manager.UsbManager(None, helpers.HOST)
    manager.inventory = helpers.FixedInventory(devices)
    ids = [d.id for d in manager.inventory.devices()]
    for device_id in ids[1:]:
        manager.claims.claim(device_id, str(uuid.uuid4()))
    server = instance('stopped')
    context = nova_context.get_admin_context()
    timings = []
    with mock.patch('nova_usb.db.server_requests.read',
                    lambda c, i: server), \
            mock.patch.object(usb_manager.UsbManager, '_save'), \
            mock.patch.object(usb_manager.UsbManager, '_topology'):
        for _ in range(repetitions):
            started = time.perf_counter()
            manager.attach_device(context, server, ids[0])
            timings.append(time.perf_counter() - started)
            manager.claims.release(ids[0], server.uuid)
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repetitions', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=3)
    args = parser.parse_args()
    CONF.set_override('device_spec', ['{}'], group='usb')

    ours, bare = live_attach(args.repetitions, args.warmup)
    print('(a) live attach refused by libvirt, %d rounds each, interleaved'
          % args.repetitions)
    print('    through UsbManager:   median %8.3f ms' % _median_ms(ours))
    print('    bare libvirt call:    median %8.3f ms' % _median_ms(bare))
    print('    ratio ours/bare:      %.2f' % (
        statistics.median(ours) / statistics.median(bare)))

    few, many = [], []
    for round_ in range(args.warmup + args.repetitions):
        # Alternate which goes first, as above.
        pair = [(few, 1), (many, 500)]
        if round_ % 2:
            pair.reverse()
        for timings, servers in pair:
            elapsed = statistics.median(claim_check(servers, 5))
            if round_ >= args.warmup:
                timings.append(elapsed)
    print('(b) attach checks on a stopped server (nothing saved), '
          '%d rounds each' % args.repetitions)
    print('    1 other holder:       median %8.3f ms' % _median_ms(few))
    print('    500 other holders:    median %8.3f ms' % _median_ms(many))
    print('    ratio 500/1:          %.2f' % (
        statistics.median(many) / statistics.median(few)))


if __name__ == '__main__':
    main()
