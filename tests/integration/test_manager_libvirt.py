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

"""The compute side's USB changes against a real libvirtd and QEMU.

This machine's kernel has no USB subsystem, so no host device can really be
passed through here: these tests prove what can be proven with a real
libvirt all the same. A live attach fails in libvirt and must leave
everything as it was; a domain Nova writes with nova-usb's controllers and
devices is accepted by libvirt and boots even though the device is absent.

Two parts are stand-ins, named as such: the host inventory holds made-up
devices (no USB here to read), and the server is an Instance object that
is never saved (the functional suite covers the database path).
"""

import os
from unittest import mock
import uuid

import fixtures
import libvirt
from lxml import etree
from nova import context as nova_context
from nova import objects
from nova.virt.libvirt import config as nova_config
from nova.virt.libvirt import guest as libvirt_guest

from nova_usb import conf as nova_usb_conf
from nova_usb.db import requests as usb_requests
from nova_usb import exception
from nova_usb.virt import guest as usb_guest
from nova_usb.virt import manager as usb_manager
from nova_usb.virt import usb_device
from tests.integration import libvirtd

CONF = nova_usb_conf.CONF
HOST = 'integration-host'
SYSFS_USB = '/sys/bus/usb/devices'


class FixedInventory(object):
    """Stand-in for the host inventory.

    Made-up devices, as this kernel has no USB to read.
    """

    def __init__(self, devices):
        self._devices = usb_device.with_ids(devices)

    def devices(self):
        return list(self._devices)

    def get(self, device_id):
        return next((d for d in self._devices if d.id == device_id), None)


def made_up_device(port_path, devnum, serial):
    return usb_device.HostUsbDevice(
        host=HOST, vendor_id='1050', product_id='0407', vendor_name='Yubico',
        product_name='YubiKey', serial=serial, bus=1, devnum=devnum,
        port_path=port_path, speed=12, device_class='00',
        interface_classes=('03',), is_root_hub=False,
        sys_path='/sys/devices/pci0000:00/0000:00:14.0/usb1/' + port_path)


class _Host(object):
    def __init__(self, dom):
        self.dom = dom

    def get_guest(self, instance):
        return libvirt_guest.Guest(self.dom)


class _Driver(object):
    """The one part of Nova's driver the manager uses for these paths."""

    def __init__(self, dom):
        self._host = _Host(dom)


class ManagerLibvirtTestCase(libvirtd.TestCase):

    def setUp(self):
        super().setUp()
        CONF.set_override('device_spec', ['{"all_devices": true}'],
                          group='usb')
        self.addCleanup(CONF.clear_override, 'device_spec', group='usb')
        self.context = nova_context.get_admin_context()
        self.key = made_up_device('1-3', 9, 'YK-INTEGRATION-1')
        self.absent = made_up_device('1-4', 10, 'YK-INTEGRATION-2')

    def manager(self, dom, devices):
        manager = usb_manager.UsbManager(_Driver(dom), HOST)
        manager.inventory = FixedInventory(devices)
        return manager

    def instance(self, vm_state, system_metadata=None):
        instance = objects.Instance(
            uuid=str(uuid.uuid4()), vm_state=vm_state, task_state=None,
            host=HOST, system_metadata=system_metadata or {})
        self.useFixture(fixtures.MockPatch(
            'nova_usb.db.server_requests.read',
            lambda context, instance_uuid: instance))
        instance.save = mock.Mock(name='save')
        return instance

    def test_live_attach_refused_by_libvirt_changes_nothing(self):
        dom = self.start_domain(devices=[
            "<controller type='usb' index='0' model='qemu-xhci'/>"])
        manager = self.manager(dom, [self.key])
        key = manager.inventory.devices()[0]
        instance = self.instance('active')
        live, inactive = self.live_xml(dom), self.inactive_xml(dom)

        error = self.assertRaises(exception.UsbHostRefused,
                                  manager.attach_device, self.context,
                                  instance, key.id)

        # libvirt's own words reach the caller.
        self.assertIn('could not attach the USB device: ', str(error))
        self.assertGreater(len(str(error)),
                           len('could not attach the USB device: ') + 10)
        self.assertEqual(live, self.live_xml(dom))
        self.assertEqual(inactive, self.inactive_xml(dom))
        self.assertEqual({}, manager.claims.snapshot())
        self.assertEqual({}, instance.system_metadata)
        instance.save.assert_not_called()

    def test_written_domain_boots_without_absent_devices(self):
        manager = self.manager(None, [self.key, self.absent])
        key, absent = manager.inventory.devices()
        sysmeta = {}
        usb_requests.store(sysmeta, usb_requests.UsbRequests(
            devices=(usb_requests.DeviceRequest(key.id, '1050', '0407'),
                     usb_requests.DeviceRequest(
                         'not-on-this-host', '1050', '0407')),
            controllers=(usb_requests.ControllerRequest(1, 'ehci'),)))
        instance = self.instance('active', sysmeta)
        guest = self.nova_guest()

        manager.add_to_guest_config(instance, guest)
        dom = self.conn.defineXML(guest.to_xml())
        self.addCleanup(self._remove, dom)

        defined = etree.fromstring(self.inactive_xml(dom))
        alias = usb_guest.device_alias(key.id)
        # Nova disabled USB (model 'none'); a server holding devices gets
        # [usb] default_controller_model, and the requested ehci.
        self.assertEqual(
            [('0', CONF.usb.default_controller_model), ('1', 'ehci')],
            [(c.get('index'), c.get('model')) for c in defined.iterfind(
                "devices/controller[@type='usb']")])
        self.assertEqual([alias], [a.get('name') for a in defined.iterfind(
            "devices/hostdev[@type='usb']/alias")])
        self.assertEqual({key.id: instance.uuid}, manager.claims.snapshot())

        if not os.path.isdir(SYSFS_USB):
            # A kernel without USB: libvirt cannot even look for the device,
            # whatever its startupPolicy, so no guest with a USB host device
            # can start here.
            error = self.assertRaises(libvirt.libvirtError, dom.create)
            self.assertIn("cannot open directory '%s'" % SYSFS_USB,
                          str(error))
            return
        dom.create()
        running = etree.fromstring(self.live_xml(dom))
        # The device is not on this host: startupPolicy 'optional' made
        # libvirt drop it and the guest started all the same.
        self.assertEqual([], running.findall("devices/hostdev[@type='usb']"))

    def nova_guest(self):
        """A domain as Nova's driver writes one when USB is not needed."""
        guest = nova_config.LibvirtConfigGuest()
        guest.virt_type = self.domain_type
        guest.name = self._name()
        guest.uuid = str(uuid.uuid4())
        guest.memory = 64 * 1024
        guest.vcpus = 1
        guest.os_type = 'hvm'
        guest.os_mach_type = 'pc'
        usb = nova_config.LibvirtConfigGuestUSBHostController()
        usb.index = 0
        usb.model = 'none'
        guest.add_device(usb)
        return guest
