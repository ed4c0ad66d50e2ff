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

"""nova-usb's compute side on a host with real USB (the nested test host).

Real here: the kernel's USB (QEMU-emulated xHCI controllers, hubs, sticks
and HID devices), sysfs read through pyudev and udev's hotplug events,
libvirtd, and the guests' QEMU; nova-usb's inventory, identity, watcher,
claims, XML and port model; Nova's libvirt driver (LibvirtUsbDriver, whose
live detach waits for libvirt's device-removed event).

One stand-in, named: the server is an Instance object that is never
saved (``save`` is a mock); the cloud of tests/cloud, whose USB node this
same host becomes after this suite, covers the database path.
"""

import os
import unittest
from unittest import mock

import libvirt
from nova import context as nova_context
from nova.virt.libvirt import config as nova_config
from nova_usbclient import statuses

from nova_usb.db import requests as usb_requests
from nova_usb import exception
from nova_usb.virt import guest as usb_guest
from nova_usb.virt import manager as usb_manager
from nova_usb.virt import usb_device
from tests.e2e.guest import host_control
from tests.e2e.guest import nested
from tests.fixtures import polling

STORAGE = ('46f4', '0001')  # QEMU's usb-storage
HID = ('0627', '0001')  # QEMU's keyboard and tablet
EVENT_TIMEOUT = 60

_driver = None


def setUpModule():
    global _driver
    _driver = nested.usb_driver()


def tearDownModule():
    nested.release_usb_driver(_driver)


def wait_for(predicate, what, timeout=EVENT_TIMEOUT):
    return polling.wait_for(predicate, what, timeout)


class DriverTestCase(unittest.TestCase):

    def setUp(self):
        super().setUp()
        self.context = nova_context.get_admin_context()
        self.conn = nested.connect()
        self.addCleanup(self.conn.close)
        self.addCleanup(nested.remove_domains, self.conn)
        self.manager = usb_manager.UsbManager(_driver, nested.HOST)
        _driver.usb = self.manager
        self.manager.watcher.start()
        self.addCleanup(self.manager.watcher.stop)
        self.instances = {}
        patcher = mock.patch(
            'nova_usb.db.server_requests.read',
            lambda context, instance_uuid: self.instances[instance_uuid])
        patcher.start()
        self.addCleanup(patcher.stop)
        self.topology = host_control.topology()

    # Helpers

    def device(self, topology_id):
        """The inventory's device for a device of the topology."""
        spec = next(d for d in self.topology['devices']
                    if d['id'] == topology_id)
        product = {'usb-kbd': 'QEMU USB Keyboard',
                   'usb-tablet': 'QEMU USB Tablet'}.get(spec['driver'])
        for device in self.manager.inventory.devices():
            if spec['driver'] == 'usb-storage':
                if (device.vendor_id, device.product_id) != STORAGE:
                    continue
                if spec['serial'] and device.serial == spec['serial']:
                    return device
                if not spec['serial'] and device.serial is None:
                    return device
            elif product and device.product_name == product:
                return device
        return None

    def instance(self, vm_state):
        return nested.stand_in_instance(vm_state, self.instances)

    def running_server(self, name, controllers=(nested.xhci(),)):
        instance = self.instance('active')
        dom = self.conn.defineXML(nested.domain_xml(
            name, controllers, domain_uuid=instance.uuid))
        dom.create()
        return instance, dom

    def requested(self, instance):
        return [r.id for r in usb_requests.load(
            instance.system_metadata).devices]

    def sticks_in_guest(self, dom):
        devices, _ = nested.info_usb(dom)
        return [d for d in devices if d['product'] == nested.STICK_PRODUCT]

    def save_output(self, name, text):
        out = os.environ.get('NOVA_USB_E2E_OUT')
        if out:
            with open(os.path.join(out, name), 'w') as output:
                output.write(text)

    def assertHeldByQemu(self, device):
        """The host's driver let go of the device: QEMU holds it.

        QEMU detaches the kernel's driver when it opens the device; its
        interfaces show ``usbfs`` once the guest configured the device
        (the nested guests' firmware does at boot), none before.
        """
        held = []
        try:
            wait_for(lambda: held.append(nested.interface_drivers(device))
                     or held[-1] <= {'usbfs'}, 'QEMU holds it', timeout=20)
        except AssertionError:
            self.fail('%s is driven by %s, not by QEMU' % (
                device.port_path, held[-1]))

    def unplug(self, topology_id):
        """Pull a device out for the rest of the test, back at cleanup."""
        host_control.unplug(topology_id)
        self.addCleanup(self._replug_if_gone, topology_id)

    def _replug_if_gone(self, topology_id):
        if self.device(topology_id) is None:
            host_control.plug(topology_id)

    # Tests

    def test_inventory_reads_the_topology(self):
        stick_a, stick_b = self.device('stick-a'), self.device('stick-b')
        no_serial = self.device('stick-noserial')
        stick_c = self.device('stick-c')
        keyboard, tablet = self.device('keyboard'), self.device('tablet')
        for name, found in (('stick-a', stick_a), ('stick-b', stick_b),
                            ('stick-noserial', no_serial),
                            ('stick-c', stick_c), ('keyboard', keyboard),
                            ('tablet', tablet)):
            self.assertIsNotNone(found, '%s not in the inventory' % name)

        # Identical sticks: one vendor:product, told apart by serial.
        self.assertEqual(usb_device.device_id(
            nested.HOST, *STORAGE, serial='NOVAUSB-A'), stick_a.id)
        self.assertEqual(usb_device.device_id(
            nested.HOST, *STORAGE, serial='NOVAUSB-B'), stick_b.id)
        # No serial: identity by port.
        self.assertTrue(no_serial.port_path.endswith('-2'),
                        no_serial.port_path)
        self.assertEqual(usb_device.device_id(
            nested.HOST, *STORAGE, port_path=no_serial.port_path),
            no_serial.id)
        # The hub chain: port 1 is a hub, its port 1 another one.
        self.assertTrue(stick_a.port_path.endswith('-1.2'))
        self.assertTrue(stick_b.port_path.endswith('-1.1.1'))
        bus = stick_a.bus
        hubs = sorted(d.port_path for d in self.manager.inventory.devices()
                      if d.is_hub and not d.is_root_hub and d.bus == bus)
        self.assertEqual(['%d-1' % bus, '%d-1.1' % bus], hubs)
        # Two HID devices sharing vendor:product.
        self.assertEqual(HID, (keyboard.vendor_id, keyboard.product_id))
        self.assertEqual(HID, (tablet.vendor_id, tablet.product_id))
        self.assertNotEqual(keyboard.id, tablet.id)
        # The full controller's USB 3 port gives a SuperSpeed stick.
        self.assertEqual(5000, stick_c.speed)
        ids = [d.id for d in self.manager.inventory.devices()]
        self.assertEqual(len(ids), len(set(ids)))

    def test_live_attach_and_detach_on_a_running_server(self):
        instance, dom = self.running_server('live')
        stick = self.device('stick-a')
        self.assertEqual({'usb-storage'}, nested.interface_drivers(stick))
        self.assertEqual([], self.sticks_in_guest(dom))
        self.save_output('info-usb-before-attach.txt',
                         nested.info_usb(dom)[1])

        shown = self.manager.attach_device(self.context, instance, stick.id)

        self.assertEqual(instance.uuid, shown['server_id'])
        alias = usb_guest.device_alias(stick.id)
        self.assertEqual([(alias, stick.bus, stick.devnum)],
                         nested.hostdevs(dom.XMLDesc(0)))
        self.assertEqual(
            [(alias, stick.bus, stick.devnum)],
            nested.hostdevs(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)))
        in_guest = self.sticks_in_guest(dom)
        self.assertEqual([alias], [d['id'] for d in in_guest])
        self.save_output('info-usb-after-attach.txt',
                         nested.info_usb(dom)[1])
        # The host let go of it: QEMU holds it through usbfs.
        self.assertHeldByQemu(stick)
        self.assertEqual([stick.id], self.requested(instance))
        self.assertEqual({stick.id: instance.uuid},
                         self.manager.claims.snapshot())

        self.manager.detach_device(self.context, instance, stick.id)

        self.assertEqual([], nested.hostdevs(dom.XMLDesc(0)))
        self.assertEqual([], nested.hostdevs(
            dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)))
        self.assertEqual([], self.sticks_in_guest(dom))
        self.save_output('info-usb-after-detach.txt',
                         nested.info_usb(dom)[1])
        wait_for(lambda: nested.interface_drivers(stick) == {'usb-storage'},
                 'usb-storage drives the stick again')
        self.assertEqual([], self.requested(instance))
        self.assertEqual({}, self.manager.claims.snapshot())
        self.assertTrue(dom.isActive())

    def test_cold_attach_to_a_stopped_server_then_start(self):
        instance = self.instance('stopped')
        stick = self.device('stick-b')  # behind two hubs

        self.manager.attach_device(self.context, instance, stick.id)

        # Recorded only: the server's next start writes the domain.
        self.assertEqual([stick.id], self.requested(instance))
        self.assertEqual({'usb-storage'}, nested.interface_drivers(stick))

        # The start: Nova's guest config, with nova-usb's additions.
        guest = nova_config.LibvirtConfigGuest()
        guest.virt_type = 'qemu'
        guest.name = nested.PREFIX + 'cold'
        guest.uuid = instance.uuid
        guest.memory = 64 * 1024
        guest.vcpus = 1
        guest.os_type = 'hvm'
        guest.os_mach_type = 'pc'
        controller = nova_config.LibvirtConfigGuestController()
        controller.type = 'usb'
        controller.index = 0
        controller.model = 'qemu-xhci'
        guest.add_device(controller)
        self.manager.add_to_guest_config(instance, guest)
        dom = self.conn.defineXML(guest.to_xml())
        dom.create()

        alias = usb_guest.device_alias(stick.id)
        self.assertEqual([alias], [d['id'] for d in
                                   self.sticks_in_guest(dom)])
        self.assertHeldByQemu(stick)

    def test_identical_devices_on_two_servers(self):
        first, first_dom = self.running_server('first')
        second, second_dom = self.running_server('second')
        stick_a, stick_b = self.device('stick-a'), self.device('stick-b')
        keyboard, tablet = self.device('keyboard'), self.device('tablet')

        # Same vendor:product each time: libvirt tells them apart only by
        # the bus and device numbers nova-usb gives it.
        self.manager.attach_device(self.context, first, stick_a.id)
        self.manager.attach_device(self.context, second, stick_b.id)
        self.manager.attach_device(self.context, first, tablet.id)
        self.manager.attach_device(self.context, second, keyboard.id)

        def held(dom):
            devices, _ = nested.info_usb(dom)
            return sorted(d['id'] for d in devices)

        alias = usb_guest.device_alias
        self.assertEqual(sorted([alias(stick_a.id), alias(tablet.id)]),
                         held(first_dom))
        self.assertEqual(sorted([alias(stick_b.id), alias(keyboard.id)]),
                         held(second_dom))
        products = [d['product'] for d in nested.info_usb(second_dom)[0]]
        self.assertIn('QEMU USB Keyboard', products)

        # One holder per device: the second server cannot take stick A.
        xml = second_dom.XMLDesc(0)
        self.assertRaises(exception.UsbDeviceInUse,
                          self.manager.attach_device, self.context, second,
                          stick_a.id)
        self.assertEqual(xml, second_dom.XMLDesc(0))
        self.assertEqual([stick_b.id, keyboard.id], self.requested(second))

    def test_port_exhaustion_predicted_then_confirmed_by_libvirt(self):
        instance, dom = self.running_server(
            'full', controllers=(nested.xhci(ports=1),))
        stick_a, stick_b = self.device('stick-a'), self.device('stick-b')
        self.manager.attach_device(self.context, instance, stick_a.id)
        live = dom.XMLDesc(0)
        inactive = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)

        with self.assertRaises(exception.UsbNoFreePort) as refusal:
            self.manager.attach_device(self.context, instance, stick_b.id)

        self.assertIn('every USB port of the server', str(refusal.exception))
        self.assertEqual(live, dom.XMLDesc(0))
        self.assertEqual(inactive,
                         dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        self.assertEqual({stick_a.id: instance.uuid},
                         self.manager.claims.snapshot())
        self.assertEqual([stick_a.id], self.requested(instance))
        # libvirt, asked without nova-usb's check, agrees.
        hostdev = usb_guest.make_hostdev(stick_b)
        with self.assertRaises(libvirt.libvirtError) as refusal:
            dom.attachDeviceFlags(hostdev.to_xml(),
                                  libvirt.VIR_DOMAIN_AFFECT_LIVE)
        self.assertIn('No free USB ports', str(refusal.exception))
        self.assertEqual(live, dom.XMLDesc(0))

    def test_device_unplugged_while_attached_then_replugged(self):
        instance, dom = self.running_server('unplugged')
        stick = self.device('stick-noserial')
        self.manager.attach_device(self.context, instance, stick.id)
        alias = usb_guest.device_alias(stick.id)
        self.assertEqual([alias], [d['id'] for d in
                                   self.sticks_in_guest(dom)])

        self.unplug('stick-noserial')

        wait_for(lambda: self.manager.inventory.get(stick.id) is None,
                 'the watcher sees the stick go')
        self.assertTrue(dom.isActive())
        listed = self.manager.list_server_devices(self.context, instance)
        self.assertEqual([(stick.id, statuses.MISSING)],
                         [(d['id'], d['status']) for d in listed])
        # The claim stays with the server; libvirt still lists it.
        self.assertEqual({stick.id: instance.uuid},
                         self.manager.claims.snapshot())
        self.assertEqual([alias], [a for a, _, _ in
                                   nested.hostdevs(dom.XMLDesc(0))])
        self.save_output('info-usb-after-unplug.txt',
                         nested.info_usb(dom)[1])

        host_control.plug('stick-noserial')

        back = wait_for(lambda: self.manager.inventory.get(stick.id),
                        'the watcher sees the stick back')
        self.assertEqual(stick.port_path, back.port_path)  # same id
        self.assertNotEqual(stick.devnum, back.devnum)
        # nova-usb gives it back to the guest: the stale host device is
        # detached, the stick attached again with its new device number.
        # libvirt changes the live definition first, the persistent one
        # once it has asked QEMU for its device list again.
        given_back = [(alias, back.bus, back.devnum)]
        wait_for(lambda: nested.hostdevs(dom.XMLDesc(0)) == given_back and
                 nested.hostdevs(dom.XMLDesc(
                     libvirt.VIR_DOMAIN_XML_INACTIVE)) == given_back,
                 'the stick given back to the guest, live and persistent')
        self.assertHeldByQemu(back)
        self.assertEqual([alias], [d['id'] for d in
                                   self.sticks_in_guest(dom)])
        self.save_output('info-usb-after-replug.txt',
                         nested.info_usb(dom)[1])
        listed = self.manager.list_server_devices(self.context, instance)
        self.assertEqual([(stick.id, statuses.ATTACHED)],
                         [(d['id'], d['status']) for d in listed])
        self.assertEqual([stick.id], self.requested(instance))
        self.assertEqual({stick.id: instance.uuid},
                         self.manager.claims.snapshot())
        self.manager.detach_device(self.context, instance, stick.id)
        self.assertEqual([], self.sticks_in_guest(dom))
        wait_for(lambda: nested.interface_drivers(back) == {'usb-storage'},
                 'usb-storage drives the stick again')

    def test_moved_device_keeps_its_id_and_its_server(self):
        instance, dom = self.running_server('moved')
        stick = self.device('stick-a')
        self.manager.attach_device(self.context, instance, stick.id)
        alias = usb_guest.device_alias(stick.id)
        port = self.topology['free_ports']['xhci'][0]
        host_control.move('stick-a', port)
        self.addCleanup(host_control.move, 'stick-a', '1.2')

        moved = wait_for(
            lambda: (self.manager.inventory.get(stick.id) or
                     stick).port_path != stick.port_path and
            self.manager.inventory.get(stick.id),
            'the watcher sees the stick at its new port')

        self.assertTrue(moved.port_path.endswith('-' + port),
                        moved.port_path)
        self.assertEqual(1, sum(1 for d in self.manager.inventory.devices()
                                if d.serial == 'NOVAUSB-A'))
        # Same id, so still the server's: given back at its new place.
        wait_for(lambda: nested.hostdevs(dom.XMLDesc(0)) ==
                 [(alias, moved.bus, moved.devnum)],
                 'the moved stick given back to the guest')
        self.assertHeldByQemu(moved)
        self.assertEqual([alias], [d['id'] for d in
                                   self.sticks_in_guest(dom)])
        self.manager.detach_device(self.context, instance, stick.id)
