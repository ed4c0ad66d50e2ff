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

"""(c) Writing a domain with 16 USB devices, against Nova's own driver.

Every time Nova writes a server's domain (boot, hard reboot, start,
rebuild, ...) nova-usb's driver puts the requested controllers and devices
into it. This measures LibvirtUsbDriver._get_guest_config for a server
holding 16 USB devices (on two added qemu-xhci controllers) against two
baselines, interleaved, in one run of Nova's functional harness
(fakelibvirt, the server in Nova's database, devices recorded with
umockdev, as in tests/functional):

* the same work done bare: Nova's own LibvirtDriver._get_guest_config for
  the same server, then the same USB controller and 16 host device
  objects, with the same addresses, put into it directly (no stored
  requests read, no checks, no port plan). Before timing, both domains
  are checked to have the same devices, XML for XML: the ratio is what
  nova-usb's deciding costs;
* Nova's _get_guest_config alone (a domain without the devices), for
  reference.

Run from the top of the repository::

    python benchmarks/guest_config.py
"""

import os
import statistics
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
os.environ.setdefault('OS_NOVA_DISABLE_EVENTLET_PATCHING', '1')

# Nova's concurrency mode is chosen before anything imports eventlet.
import tests  # noqa: E402,F401,I100

import nova.conf  # noqa: E402
from nova import objects  # noqa: E402
from nova.virt.libvirt import blockinfo  # noqa: E402
from nova.virt.libvirt import config as nova_config  # noqa: E402
from nova.virt.libvirt import driver as libvirt_driver  # noqa: E402

from nova_usb.virt import config as usb_config  # noqa: E402
from nova_usb_sandbox import umockdev as testbed  # noqa: E402
from tests.fixtures import usbgen  # noqa: E402
from tests.functional import base  # noqa: E402

CONF = nova.conf.CONF
DEVICES = 16
REPETITIONS = 100
WARMUP = 3


def sixteen_keys():
    """Four hubs on bus 1, four keys on each."""
    host = usbgen.Host.with_buses(1)
    for hub in range(1, usbgen.HUB_PORTS + 1):
        host.add(usbgen.hub('1-%d' % hub, devnum=1 + hub))
    for n in range(DEVICES):
        hub, port = divmod(n, usbgen.HUB_PORTS)
        port_path = '1-%d.%d' % (hub + 1, port + 1)
        host.add(usbgen.Device(port_path, base.YUBICO, '0407',
                               devnum=10 + n, serial='YK%04d' % n,
                               interfaces=('03',)))
    return host


def usb_additions(guest):
    """What nova-usb put into a domain: its USB controllers and host
    devices, in order, as plain values.
    """
    added = []
    for device in guest.devices:
        if isinstance(device, usb_config.LibvirtConfigGuestUSBController):
            added.append(('controller', device.index, device.model,
                          device.ports))
        elif isinstance(device, usb_config.LibvirtConfigGuestUSBHostdev):
            added.append((
                'hostdev', device.vendor_id, device.product_id,
                device.host_bus, device.host_device, device.startup_policy,
                device.alias, device.address and (device.address.bus,
                                                  device.address.port)))
    return added


def add_bare(guest, additions, root_model):
    """Put ``additions`` into ``guest`` directly: the least work that
    gives the same domain.
    """
    for device in guest.devices:
        if (isinstance(device, nova_config.LibvirtConfigGuestController) and
                device.type == 'usb' and device.model == 'none'):
            device.model = root_model
    for addition in additions:
        if addition[0] == 'controller':
            _, index, model, ports = addition
            guest.add_device(usb_config.LibvirtConfigGuestUSBController(
                index=index, model=model, ports=ports))
            continue
        _, vendor, product, bus, devnum, policy, alias, address = addition
        hostdev = usb_config.LibvirtConfigGuestUSBHostdev()
        hostdev.vendor_id = vendor
        hostdev.product_id = product
        hostdev.host_bus = bus
        hostdev.host_device = devnum
        hostdev.startup_policy = policy
        hostdev.alias = alias
        if address:
            hostdev.address = usb_config.LibvirtConfigGuestUSBAddress(
                *address)
        guest.add_device(hostdev)
    return guest


def devices_xml(guest):
    return [device.to_xml() for device in guest.devices]


class GuestConfigBenchmark(base.UsbServersTestBase):

    make_usb_host = staticmethod(sixteen_keys)

    def test_guest_config(self):
        self.start_compute('compute1')
        server = self._stop_server(self._create_server(networks='none'))
        for _ in range(2):
            self.usb_api.add_controller(self.ctxt, self.instance(server),
                                        'qemu-xhci', 8)
        for device in self.usb_host.devices:
            if device.vendor_id == base.YUBICO:
                self.attach(server, self.device_id(device.port_path),
                            'qemu-xhci')
        instance = self.instance(server)
        self.assertEqual(DEVICES, len(self.requests(server).devices))
        driver = self.computes['compute1'].driver
        image_meta = objects.ImageMeta.from_instance(instance)
        disk_info = blockinfo.get_disk_info(CONF.libvirt.virt_type,
                                            instance, image_meta)

        def ours():
            return driver._get_guest_config(instance, [], image_meta,
                                            disk_info)

        def novas():
            return libvirt_driver.LibvirtDriver._get_guest_config(
                driver, instance, [], image_meta, disk_info)

        additions = usb_additions(ours())
        self.assertEqual(DEVICES, sum(1 for a in additions
                                      if a[0] == 'hostdev'))
        root_model = CONF.usb.default_controller_model

        def same_work_bare():
            return add_bare(novas(), additions, root_model)

        # The same domain, device for device.
        self.assertEqual(devices_xml(ours()), devices_xml(same_work_bare()))
        functions = (ours, same_work_bare, novas)
        timings = {function: [] for function in functions}
        for round_ in range(WARMUP + REPETITIONS):
            # Each goes first, second and last in turn.
            shift = round_ % len(functions)
            for function in functions[shift:] + functions[:shift]:
                started = time.perf_counter()
                function()
                if round_ >= WARMUP:
                    timings[function].append(time.perf_counter() - started)
        mine, bare, theirs = (statistics.median(timings[f])
                              for f in functions)
        sys.stdout.write(
            '\n(c) _get_guest_config, %d USB devices on 2 added controllers,'
            ' %d rounds each, interleaved\n'
            '    LibvirtUsbDriver:                 median %8.3f ms\n'
            '    Nova + the same devices, bare:    median %8.3f ms\n'
            '    Nova alone (no USB devices):      median %8.3f ms\n'
            '    ratio ours/same work bare:        %.2f\n'
            '    ratio ours/Nova alone:            %.2f\n' % (
                DEVICES, REPETITIONS, mine * 1000, bare * 1000,
                theirs * 1000, mine / bare, mine / theirs))


if __name__ == '__main__':
    if not testbed.is_preloaded():
        os.execvp('umockdev-wrapper',
                  ['umockdev-wrapper', sys.executable] + sys.argv)
    unittest.main(argv=[sys.argv[0]], verbosity=0)
