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

import dataclasses
import os

from lxml import etree
from nova.compute import task_states
from nova.virt import driver as virt_driver

import nova.conf

from nova_usb.db import requests as usb_requests
from nova_usb import exception
from nova_usb.virt import driver as usb_driver
from nova_usb.virt import guest as usb_guest
from nova_usb.virt import ports
from tests.fixtures import polling
from tests.functional import base

CONF = nova.conf.CONF


def hostdevs(domain_xml):
    """alias -> (vendor, product, bus, device, guest bus, guest port)."""
    found = {}
    for element in etree.fromstring(domain_xml).iterfind(
            "devices/hostdev[@type='usb']"):
        source = element.find('source')
        address = element.find('address')
        found[element.find('alias').get('name')] = (
            source.find('vendor').get('id'), source.find('product').get('id'),
            source.find('address').get('bus'),
            source.find('address').get('device'),
            None if address is None else address.get('bus'),
            None if address is None else address.get('port'))
    return found


def make_instance_dir(server):
    """Where Nova's rescue writes unrescue.xml.

    No disk image is made in these tests, so nothing else creates it.
    """
    os.makedirs(os.path.join(CONF.instances_path, server['id']),
                exist_ok=True)


class UsbTestBase(base.UsbServersTestBase):

    def setUp(self):
        super().setUp()
        self.start_compute('compute1')
        self.key1 = self.device_id('1-1.1')
        self.key2 = self.device_id('1-1.2')
        self.dongle = self.device_id('1-2')
        self.dongles = [self.device_id(p) for p in ('1-2', '1-4', '1-5',
                                                    '1-6')]

    def assertUnchanged(self, server, before):
        """Domain XML (live and persistent), requests, claims as before."""
        self.assertEqual(before, self.snapshot(server))

    def snapshot(self, server):
        """The server's USB host devices and controllers in the domain
        (live and persistent), its stored requests (devices and
        controllers) and the host's claims.
        """
        instance = self.instance(server)
        xml = {}
        if instance.vm_state in ('active', 'paused'):
            xml['live'] = hostdevs(self.live_xml(server))
            xml['live controllers'] = ports.topology_from_xml(
                self.live_xml(server)).controllers
        xml['config'] = hostdevs(self.config_xml(server))
        xml['config controllers'] = ports.topology_from_xml(
            self.config_xml(server)).controllers
        return (xml, self.requests(server),
                self.computes['compute1'].driver.usb.claims.snapshot())


class DriverLoadingTestCase(base.UsbServersTestBase):

    def test_nova_loads_the_driver_by_the_documented_name(self):
        driver = virt_driver.load_compute_driver(
            None, 'usb_libvirt.LibvirtUsbDriver')
        self.assertIsInstance(driver, usb_driver.LibvirtUsbDriver)


class StateTableTestCase(UsbTestBase):

    def test_active_is_live_and_persistent(self):
        server = self._create_server(networks='none')
        attached = self.attach(server, self.key1)
        self.assertEqual(server['id'], attached['server_id'])
        alias = usb_guest.device_alias(self.key1)
        self.assertEqual(('0x1050', '0x0407', '1', '3'),
                         hostdevs(self.live_xml(server))[alias][:4])
        self.assertIn(alias, hostdevs(self.config_xml(server)))
        self.assertEqual([self.key1],
                         [r.id for r in self.requests(server).devices])
        self.assertEqual({self.key1: 'attached'},
                         self.server_devices(server))

        self.detach(server, self.key1)
        self.assertEqual({}, hostdevs(self.live_xml(server)))
        self.assertEqual({}, hostdevs(self.config_xml(server)))
        self.assertEqual((), self.requests(server).devices)
        self.assertIsNone(self.host_device(self.key1)['server_id'])

    def test_paused_is_live_and_persistent(self):
        server = self._create_server(networks='none')
        self.api.post_server_action(server['id'], {'pause': None})
        server = self._wait_for_state_change(server, 'PAUSED')
        self.attach(server, self.key1)
        alias = usb_guest.device_alias(self.key1)
        self.assertIn(alias, hostdevs(self.live_xml(server)))
        self.api.post_server_action(server['id'], {'unpause': None})
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertIn(alias, hostdevs(self.live_xml(server)))
        self.api.post_server_action(server['id'], {'pause': None})
        server = self._wait_for_state_change(server, 'PAUSED')
        self.detach(server, self.key1)
        self.assertEqual({}, hostdevs(self.live_xml(server)))

    def test_stopped_is_recorded_and_effective_at_start(self):
        server = self._create_server(networks='none')
        server = self._stop_server(server)
        self.attach(server, self.dongle)
        alias = usb_guest.device_alias(self.dongle)
        # Recorded only: Nova writes the whole domain at the next start.
        self.assertNotIn(alias, hostdevs(self.config_xml(server)))
        self.assertEqual(server['id'],
                         self.host_device(self.dongle)['server_id'])
        server = self._start_server(server)
        self.assertEqual(('0x0529', '0x0001', '1', '5'),
                         hostdevs(self.live_xml(server))[alias][:4])

        server = self._stop_server(server)
        self.detach(server, self.dongle)
        server = self._start_server(server)
        self.assertEqual({}, hostdevs(self.live_xml(server)))

    def assertRefused(self, server, action='attach', device_id=None):
        device_id = device_id or self.key1
        before = self.snapshot(server)
        call = self.attach if action == 'attach' else self.detach
        error = self.assertRaises(exception.UsbInstanceInvalidState, call,
                                  server, device_id)
        self.assertEqual(409, error.code)
        self.assertUnchanged(server, before)
        return error

    def test_suspended_is_refused(self):
        server = self._create_server(networks='none')
        self.attach(server, self.key2)
        server = self._suspend_server(server)
        error = self.assertRefused(server)
        self.assertIn('suspended', str(error))
        self.assertRefused(server, 'detach', self.key2)
        server = self._resume_server(server)
        self.assertIn(usb_guest.device_alias(self.key2),
                      hostdevs(self.live_xml(server)))

    def test_rescued_is_refused(self):
        server = self._create_server(networks='none')
        self.attach(server, self.key2)
        make_instance_dir(server)
        server = self._rescue_server(server)
        self.assertRefused(server)
        self.assertRefused(server, 'detach', self.key2)
        # The rescue domain, written by Nova, has the device too.
        self.assertIn(usb_guest.device_alias(self.key2),
                      hostdevs(self.live_xml(server)))
        server = self._unrescue_server(server)
        self.assertIn(usb_guest.device_alias(self.key2),
                      hostdevs(self.live_xml(server)))

    def test_shelved_offloaded_is_refused(self):
        server = self._create_server(networks='none')
        server = self._shelve_server(server)
        instance = self.instance(server)
        error = self.assertRaises(exception.UsbInstanceInvalidState,
                                  self.computes['compute1'].driver.usb
                                  .attach_device, self.ctxt, instance,
                                  self.key1)
        self.assertIn('shelved_offloaded', str(error))

    def test_error_state_is_refused(self):
        server = self._create_server(networks='none')
        instance = self.instance(server)
        instance.vm_state = 'error'
        instance.save()
        self.assertRefused(server)

    def test_any_task_state_is_refused(self):
        server = self._create_server(networks='none')
        instance = self.instance(server)
        instance.task_state = task_states.REBOOTING
        instance.save()
        error = self.assertRefused(server)
        self.assertIn('rebooting', str(error))


class AttachErrorsTestCase(UsbTestBase):

    def setUp(self):
        super().setUp()
        self.server = self._create_server(networks='none')

    def assertAttachFails(self, error_class, device_id, fragment,
                          server=None, **kwargs):
        server = server or self.server
        before = self.snapshot(server)
        error = self.assertRaises(error_class, self.attach, server,
                                  device_id, **kwargs)
        self.assertIn(fragment, str(error))
        self.assertUnchanged(server, before)
        return error

    def test_unknown_device(self):
        error = self.assertAttachFails(
            exception.UsbDeviceNotFound, 'not-a-device', 'compute1')
        self.assertEqual(404, error.code)

    def test_device_of_another_host(self):
        self.assertAttachFails(exception.UsbDeviceNotFound,
                               self.device_id('1-1.1', host='compute2'),
                               'is not on host compute1')

    def test_hub(self):
        error = self.assertAttachFails(exception.UsbDeviceNotAssignable,
                                       self.device_id('1-1'), 'hub')
        self.assertEqual(409, error.code)

    def test_not_in_device_spec(self):
        self.assertAttachFails(exception.UsbDeviceNotAssignable,
                               self.device_id('1-3'),
                               'not matched by [usb] device_spec')

    def test_held_by_a_running_server(self):
        other = self._create_server(networks='none')
        self.attach(other, self.key1)
        error = self.assertAttachFails(exception.UsbDeviceInUse, self.key1,
                                       other['id'])
        self.assertEqual(409, error.code)

    def test_held_by_a_stopped_server(self):
        other = self._create_server(networks='none')
        other = self._stop_server(other)
        self.attach(other, self.key1)
        self.assertAttachFails(exception.UsbDeviceInUse, self.key1,
                               other['id'])
        stopped = self._stop_server(self.server)
        self.assertAttachFails(exception.UsbDeviceInUse, self.key1,
                               other['id'], server=stopped)

    def test_already_attached(self):
        self.attach(self.server, self.key1)
        self.assertAttachFails(exception.UsbDeviceAlreadyAttached,
                               self.key1, 'already attached')

    def test_unknown_controller_model(self):
        error = self.assertAttachFails(exception.UnknownControllerModel,
                                       self.key1, 'qemu-xhci',
                                       controller_model='usb4')
        self.assertEqual(400, error.code)

    def test_running_server_lacking_the_controller_model(self):
        self.assertAttachFails(exception.UsbNoFreePort, self.key1,
                               'no ehci USB controller. Stop the server',
                               controller_model='ehci')

    def test_running_server_with_every_port_taken(self):
        # Nova's controller (libvirt's default piix3-uhci) has 2 ports and
        # its tablet takes one.
        self.attach(self.server, self.dongles[0])
        error = self.assertAttachFails(exception.UsbNoFreePort,
                                       self.dongles[1], 'add a USB '
                                       'controller')
        self.assertEqual(409, error.code)

    def test_libvirt_refusal_changes_nothing(self):
        # libvirt finds the device in use by a domain nova-usb does not
        # know of (started by hand).
        other = self._create_server(networks='none')
        self.attach(other, self.key1)
        usb = self.computes['compute1'].driver.usb
        usb.claims.release(self.key1, other['id'])
        usb.providers.free(self.ctxt, self.key1, other['id'])
        self.assertAttachFails(exception.UsbHostRefused, self.key1,
                               'is in use by driver QEMU')


class IdenticalTokensTestCase(UsbTestBase):

    def test_two_identical_tokens_on_two_servers(self):
        first = self._create_server(networks='none')
        second = self._create_server(networks='none')
        self.attach(first, self.key1)
        self.attach(second, self.key2)
        self.assertEqual(
            [('0x1050', '0x0407', '1', '3')],
            [v[:4] for v in hostdevs(self.live_xml(first)).values()])
        self.assertEqual(
            [('0x1050', '0x0407', '1', '4')],
            [v[:4] for v in hostdevs(self.live_xml(second)).values()])
        self._reboot_server(first, hard=True)
        self._reboot_server(second, hard=True)
        self.assertEqual({self.key1: 'attached'}, self.server_devices(first))
        self.assertEqual({self.key2: 'attached'},
                         self.server_devices(second))


class Hotplug(object):
    """Unplugging and plugging recorded devices, by real uevents through
    the real hotplug watcher (umockdev).
    """

    def unplug(self, port_path):
        key = next(d for d in self.usb_host.devices
                   if d.port_path == port_path)
        sys_path = self.usb_host.sys_path(key)
        self.testbed.uevent(sys_path, 'remove')
        self.testbed.remove_device(sys_path)
        device_id = self.device_id(port_path)
        self.wait_for(lambda: self.usb.inventory.get(device_id) is None,
                      'the watcher sees %s go' % port_path)
        return key

    def plug(self, key, devnum=None):
        """Plug ``key`` back; a replugged device gets a new devnum."""
        if devnum is not None:
            key = dataclasses.replace(key, devnum=devnum)
        self.testbed.add_from_string(self.usb_host.recording([key]))
        self.testbed.uevent(self.usb_host.sys_path(key), 'add')
        device_id = self.device_id(key.port_path)
        self.wait_for(lambda: self.usb.inventory.get(device_id) is not None,
                      'the watcher sees %s back' % key.port_path)

    @property
    def usb(self):
        return self.computes['compute1'].driver.usb

    @staticmethod
    def wait_for(condition, what, timeout=10):
        polling.wait_for(condition, what, timeout, interval=0.05)


class MissingDeviceTestCase(Hotplug, UsbTestBase):
    """Devices leaving the host and coming back."""

    def test_device_missing_at_boot_is_given_back_when_plugged(self):
        server = self._create_server(networks='none')
        server = self._stop_server(server)
        # A controller of its own: the guest has free ports for it.
        self.attach(server, self.key1, controller_model='qemu-xhci')
        key = self.unplug('1-1.1')

        server = self._start_server(server)
        self.assertEqual({}, hostdevs(self.live_xml(server)))
        self.assertEqual({self.key1: 'missing'}, self.server_devices(server))
        requests = self.requests(server)

        self.plug(key, devnum=30)
        alias = usb_guest.device_alias(self.key1)
        self.wait_for(lambda: alias in hostdevs(self.live_xml(server)),
                      'the device is given back to the server')
        # On the qemu-xhci controller (index 1) it asked for.
        self.assertEqual(('0x1050', '0x0407', '1', '30', '1', '1'),
                         hostdevs(self.live_xml(server))[alias])
        self.assertEqual(('0x1050', '0x0407', '1', '30'),
                         hostdevs(self.config_xml(server))[alias][:4])
        self.assertEqual({self.key1: 'attached'},
                         self.server_devices(server))
        self.assertEqual(requests, self.requests(server))
        self._reboot_server(server, hard=True)
        self.assertEqual(('0x1050', '0x0407', '1', '30'),
                         hostdevs(self.live_xml(server))[alias][:4])

    def test_replugged_device_is_given_back_at_its_port(self):
        server = self._create_server(networks='none')
        self.attach(server, self.key1)
        alias = usb_guest.device_alias(self.key1)
        port = hostdevs(self.live_xml(server))[alias][4:]
        before = self.snapshot(server)
        key = self.unplug('1-1.1')
        # The guest keeps the stale device until it comes back.
        self.assertEqual(before, self.snapshot(server))
        self.assertEqual({self.key1: 'missing'}, self.server_devices(server))

        self.plug(key, devnum=31)
        self.wait_for(
            lambda: hostdevs(self.live_xml(server)).get(alias, ())[3:4] ==
            ('31',),
            'the device is given back with its new device number')
        self.assertEqual(('0x1050', '0x0407', '1', '31') + port,
                         hostdevs(self.live_xml(server))[alias])
        self.assertEqual([('0x1050', '0x0407', '1', '31')],
                         [v[:4] for v in
                          hostdevs(self.config_xml(server)).values()])
        xml, requests, claims = before
        self.assertEqual((requests, claims), self.snapshot(server)[1:])
        self.assertIn('is back on the host', self.stdlog.logger.output)

    def test_stopped_server_gets_a_replugged_device_at_start(self):
        server = self._create_server(networks='none')
        self.attach(server, self.key1)
        server = self._stop_server(server)
        before = self.snapshot(server)
        self.plug(self.unplug('1-1.1'), devnum=32)
        # What the watcher's thread does, done here to wait for it: a
        # stopped server's domain is left alone.
        self.usb.give_back(server['id'], self.key1)
        self.assertEqual(before, self.snapshot(server))

        server = self._start_server(server)
        self.assertEqual([('0x1050', '0x0407', '1', '32')],
                         [v[:4] for v in
                          hostdevs(self.live_xml(server)).values()])

    def test_device_back_with_no_free_port_changes_nothing(self):
        server = self._create_server(networks='none')
        self.attach(server, self.key1)
        server = self._stop_server(server)
        key = self.unplug('1-1.1')
        server = self._start_server(server)
        # Booted without the device: Nova's tablet and keyboard take both
        # ports of libvirt's default controller, and libvirt adds no hub
        # for a device plugged in later.
        self.assertIsNone(ports.topology_from_xml(
            self.live_xml(server)).next_free_port())
        before = self.snapshot(server)

        self.plug(key, devnum=33)
        self.wait_for(lambda: 'Could not give USB device %s back' % self.key1
                      in self.stdlog.logger.output,
                      'the refusal is logged')
        self.assertIn('every USB port of the server is taken',
                      self.stdlog.logger.output)
        self.assertEqual(before, self.snapshot(server))
        # Nova writing the domain again brings it (libvirt adds a hub).
        self._reboot_server(server, hard=True)
        self.assertEqual(
            ('0x1050', '0x0407', '1', '33'),
            hostdevs(self.live_xml(server))[
                usb_guest.device_alias(self.key1)][:4])

    def test_device_plugged_after_start_up_can_be_attached(self):
        late = base.usbgen.Device('1-7', base.YUBICO, '0407', devnum=20,
                                  serial='YK0099', interfaces=('03',))
        self.usb_host.add(late)
        self.testbed.add_from_string(self.usb_host.recording([late]))
        self.testbed.uevent(self.usb_host.sys_path(late), 'add')
        late_id = self.device_id('1-7')
        self.wait_for(lambda: self.usb.inventory.get(late_id) is not None,
                      'the watcher sees the device')
        server = self._create_server(networks='none')
        self.attach(server, late_id)
        self.assertEqual(('0x1050', '0x0407', '1', '20'), hostdevs(
            self.live_xml(server))[usb_guest.device_alias(late_id)][:4])


class ChangedDeviceTestCase(Hotplug, UsbTestBase):
    """A device that comes back under the id of a server's device, but with
    other interfaces (a cloned descriptor that adds a keyboard to a
    token), is not given back: not live, not when Nova writes the domain.
    """

    CHANGED = 'changed since attach: other interfaces'

    def replug_as(self, interfaces, devnum):
        key = self.unplug('1-1.1')
        self.plug(dataclasses.replace(key, interfaces=interfaces),
                  devnum=devnum)

    def listed(self, server):
        return {d['id']: (d['status'], d['reason']) for d in
                self.usb_api.list_server_devices(self.ctxt,
                                                 self.instance(server))}

    def test_attach_records_the_interfaces(self):
        server = self._create_server(networks='none')
        self.attach(server, self.key1)
        self.assertEqual(('03', '0b'),
                         self.requests(server).devices[0].interface_classes)

    def test_back_with_a_keyboard_is_not_given_back(self):
        server = self._create_server(networks='none')
        self.attach(server, self.key1)
        before = self.snapshot(server)

        self.replug_as(('03', '08', '0b'), devnum=33)
        message = ('USB device %s is back on the host but is %s'
                   % (self.key1, self.CHANGED))
        self.wait_for(lambda: message in self.stdlog.logger.output,
                      'the give-back refused')
        # The guest keeps the stale device; requests and claim unchanged.
        self.assertEqual(before, self.snapshot(server))
        self.assertEqual(
            {self.key1: ('missing', '%s (classes 03 0b at attach, 03 08 0b '
                         'now); detach and attach it again if it is the '
                         'same device' % self.CHANGED)},
            self.listed(server))

        # The operator, who looked at it, takes it as it is now.
        self.detach(server, self.key1)
        self.attach(server, self.key1)
        self.assertEqual(('0x1050', '0x0407', '1', '33'), hostdevs(
            self.live_xml(server))[usb_guest.device_alias(self.key1)][:4])
        self.assertEqual(('03', '08', '0b'),
                         self.requests(server).devices[0].interface_classes)
        self.assertEqual({self.key1: ('attached', None)},
                         self.listed(server))

    def test_left_out_when_nova_writes_the_domain(self):
        server = self._create_server(networks='none')
        self.attach(server, self.key1)
        server = self._stop_server(server)
        self.replug_as(('03', '08', '0b'), devnum=34)

        server = self._start_server(server)
        self.assertEqual({}, hostdevs(self.live_xml(server)))
        self.assertIn('USB device %s requested by the server is %s'
                      % (self.key1, self.CHANGED), self.stdlog.logger.output)
        self.assertEqual('missing', self.listed(server)[self.key1][0])

    def test_request_stored_before_the_record_is_given_back(self):
        server = self._create_server(networks='none')
        self.attach(server, self.key1)
        instance = self.instance(server)
        stored = usb_requests.load(instance.system_metadata)
        system_metadata = dict(instance.system_metadata)
        usb_requests.store(system_metadata, dataclasses.replace(
            stored, devices=tuple(
                dataclasses.replace(r, interface_classes=None)
                for r in stored.devices)))
        instance.system_metadata = system_metadata
        instance.save()
        alias = usb_guest.device_alias(self.key1)

        self.replug_as(('03', '08', '0b'), devnum=35)
        self.wait_for(
            lambda: hostdevs(self.live_xml(server)).get(alias, ())[3:4] ==
            ('35',), 'the device is given back, unchecked')
        self.assertIn('USB device %s is given to the server without '
                      'checking its interfaces' % self.key1,
                      self.stdlog.logger.output)
        self.assertIsNone(self.requests(server).devices[0].interface_classes)
