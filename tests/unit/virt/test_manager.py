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

"""The manager's rule for a device that comes back under the id of a
server's device: only with the interfaces it had when the server got it.

The manager runs on plain values here (no udev, libvirt or database): the
host's inventory, the server and the guest are stand-ins, the rule and the
stored requests are real.
"""

import dataclasses
import types
from unittest import mock

import fixtures
from nova import exception as nova_exception
from oslotest import base

from nova_usb.db import requests as usb_requests
from nova_usb.virt import devspec
from nova_usb.virt import manager as usb_manager
from nova_usb.virt import usb_device
from tests.unit import fakes

SERVER = '9d4a1a9e-3a55-4c1c-9a0b-6c1e5b8c2f10'
# A bank token: one CCID (smart card) interface.
TOKEN = usb_device.with_ids([fakes.host_usb_device(
    interface_classes=('0b',))])[0]
# What comes back under its id: the same descriptor, plus a keyboard.
CLONE = dataclasses.replace(TOKEN, devnum=42, interface_classes=('03', '0b'))


class FakeInventory(object):

    def __init__(self, *devices):
        self.by_id = {d.id: d for d in devices}

    def get(self, device_id):
        return self.by_id.get(device_id)

    def devices(self):
        return list(self.by_id.values())


class FakeInstance(dict):
    """What the manager reads of a Nova Instance (and oslo.log's
    ``instance=`` reads with ``get``).
    """

    def __getattr__(self, name):
        return self[name]


def request(device=TOKEN, **fields):
    values = dict(id=device.id, vendor_id=device.vendor_id,
                  product_id=device.product_id,
                  interface_classes=TOKEN.interface_classes)
    values.update(fields)
    return usb_requests.DeviceRequest(**values)


class ManagerTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.manager = usb_manager.UsbManager(types.SimpleNamespace(
            provider_tree=None), 'compute-1')
        self.manager.specs = devspec.parse_device_specs(
            ['{"vendor_id": "1050"}'])
        self.give_back = self.useFixture(fixtures.MockPatch(
            'nova_usb.virt.reconcile.give_back')).mock
        guest_class = self.useFixture(fixtures.MockPatch(
            'nova_usb.virt.guest.UsbGuest')).mock
        guest_class.find.return_value.foreign_hostdevs.return_value = []
        # The manager's log and nova_usb.virt.identity's.
        self.log = self.useFixture(fixtures.FakeLogger(name='nova_usb.virt'))

    def plugged(self, device):
        self.manager.inventory = FakeInventory(device)

    def server(self, *requests, vm_state='active'):
        system_metadata = {}
        usb_requests.store(system_metadata,
                           usb_requests.UsbRequests(devices=requests))
        instance = FakeInstance(uuid=SERVER, vm_state=vm_state,
                                task_state=None,
                                system_metadata=system_metadata)
        self.useFixture(fixtures.MockPatch(
            'nova_usb.db.server_requests.read', return_value=instance))
        for held in requests:
            self.manager.claims.claim(held.id, SERVER,
                                      allocated=bool(held.allocated))
        return instance

    def listed(self, instance):
        return [(d['status'], d['reason']) for d in
                self.manager.list_server_devices(None, instance)]


class GiveBackTestCase(ManagerTestCase):

    def test_same_interfaces_given_back(self):
        self.server(request(interface_classes=('0b',)))
        replugged = dataclasses.replace(TOKEN, devnum=42)
        self.plugged(replugged)
        self.manager.give_back(SERVER, TOKEN.id)
        self.give_back.assert_called_once_with(mock.ANY, replugged, None)

    def test_order_of_the_classes_does_not_count(self):
        self.server(request(interface_classes=('0b', '03')))
        back = dataclasses.replace(TOKEN, interface_classes=('03', '0b'))
        self.plugged(back)
        self.manager.give_back(SERVER, TOKEN.id)
        self.give_back.assert_called_once_with(mock.ANY, back, None)

    def test_other_interfaces_not_given_back(self):
        instance = self.server(request())
        self.plugged(CLONE)
        self.manager.give_back(SERVER, TOKEN.id)
        self.give_back.assert_not_called()
        self.assertIn('is back on the host but is changed since attach: '
                      'other interfaces (classes 0b at attach, 03 0b now)',
                      self.log.output)
        # Still the server's: no other server may take it meanwhile.
        self.assertEqual(SERVER, self.manager.claims.holder(TOKEN.id))
        self.assertEqual(
            [('missing', 'changed since attach: other interfaces (classes '
              '0b at attach, 03 0b now); detach and attach it again if it '
              'is the same device')],
            self.listed(instance))

    def test_fewer_interfaces_not_given_back_either(self):
        self.server(request(interface_classes=('03', '0b')))
        self.plugged(TOKEN)
        self.manager.give_back(SERVER, TOKEN.id)
        self.give_back.assert_not_called()

    def test_unrecorded_interfaces_given_back_and_logged(self):
        # Stored before the classes were recorded: nothing to check.
        self.server(request(interface_classes=None))
        self.plugged(CLONE)
        self.manager.give_back(SERVER, TOKEN.id)
        self.give_back.assert_called_once_with(mock.ANY, CLONE, None)
        self.assertIn('USB device %s is given to the server without '
                      'checking its interfaces: they were not recorded'
                      % TOKEN.id, self.log.output)

    def test_flavor_device_names_the_way_out_it_has(self):
        # It cannot be detached through the API.
        instance = self.server(request(allocated=True))
        self.plugged(CLONE)
        self.manager.give_back(SERVER, TOKEN.id)
        self.give_back.assert_not_called()
        self.assertIn('resize the server to a flavor without it',
                      self.listed(instance)[0][1])


class ListingTestCase(ManagerTestCase):

    def test_attached_with_its_interfaces(self):
        instance = self.server(request())
        self.plugged(TOKEN)
        self.assertEqual([('attached', None)], self.listed(instance))

    def test_no_interface_at_all_is_a_record_too(self):
        instance = self.server(request(interface_classes=()))
        self.plugged(CLONE)
        self.assertEqual(
            'changed since attach: other interfaces (classes none at '
            'attach, 03 0b now); detach and attach it again if it is the '
            'same device', self.listed(instance)[0][1])

    def test_unrecorded_interfaces_attached(self):
        instance = self.server(request(interface_classes=None))
        self.plugged(CLONE)
        self.assertEqual([('attached', None)], self.listed(instance))


class DomainTestCase(ManagerTestCase):
    """The domain Nova writes and the one nova-compute's start-up
    reconciles follow the same rule.
    """

    def setUp(self):
        super().setUp()
        self.inject = self.useFixture(fixtures.MockPatch(
            'nova_usb.virt.injection.add_to_guest_config')).mock

    def test_boot_leaves_out_a_device_with_other_interfaces(self):
        instance = self.server(request(), vm_state='stopped')
        self.plugged(CLONE)
        self.manager.add_to_guest_config(instance, mock.sentinel.guest)
        self.assertEqual([], self.inject.call_args[0][2])
        self.assertIn('requested by the server is changed since attach',
                      self.log.output)

    def test_boot_takes_a_device_with_its_interfaces(self):
        stored = request()
        instance = self.server(stored, vm_state='stopped')
        self.plugged(TOKEN)
        self.manager.add_to_guest_config(instance, mock.sentinel.guest)
        self.assertEqual([(stored, TOKEN)], self.inject.call_args[0][2])

    def test_reconcile_gives_no_device_with_other_interfaces(self):
        instance = self.server(request())
        self.plugged(CLONE)
        usable = {}

        def reconcile(guest, requests, mode, usable_device):
            usable.update({r.id: usable_device(r) for r in requests.devices})
            return []

        self.useFixture(fixtures.MockPatch(
            'nova_usb.virt.reconcile.reconcile', side_effect=reconcile))
        self.manager._reconcile(None, instance)
        self.assertEqual({TOKEN.id: None}, usable)
        self.plugged(dataclasses.replace(TOKEN, devnum=43))
        self.manager._reconcile(None, instance)
        self.assertEqual(43, usable[TOKEN.id].devnum)


class RecordTestCase(ManagerTestCase):

    def test_attach_records_the_interfaces(self):
        instance = self.server(vm_state='stopped')
        self.plugged(CLONE)
        save = self.useFixture(fixtures.MockPatch(
            'nova_usb.db.server_requests.save')).mock
        # A stopped server without a libvirt definition yet.
        self.useFixture(fixtures.MockPatchObject(
            self.manager, '_defined_xml', return_value=None))
        self.manager.attach_device(None, instance, CLONE.id)
        saved = save.call_args[0][2]
        self.assertEqual(('03', '0b'), saved.device(CLONE.id)
                         .interface_classes)

    def flavor_asking(self, instance, device):
        """The server's flavor asks for ``device``'s resource class, which
        is what its allocation names.
        """
        instance['flavor'] = FakeInstance(extra_specs={
            'resources:CUSTOM_USB_1050_0407': '1'})
        return {device.id: {'resources': {'CUSTOM_USB_1050_0407': 1}}}

    def test_placement_allocation_records_the_interfaces(self):
        instance = self.server()
        self.plugged(CLONE)
        allocations = self.flavor_asking(instance, CLONE)
        with self.manager.allocated_devices(instance, allocations):
            stored = usb_requests.load(instance.system_metadata)
        self.assertEqual(
            [request(CLONE, interface_classes=('03', '0b'),
                     allocated=True)],
            list(stored.devices))

    def test_placement_allocation_of_a_changed_device_fails(self):
        # The server had it here already (a rebuild): same rule.
        instance = self.server(request(allocated=True))
        self.plugged(CLONE)
        allocations = self.flavor_asking(instance, CLONE)
        error = self.assertRaises(
            nova_exception.ComputeResourcesUnavailable,
            self.manager.allocated_devices(instance, allocations).__enter__)
        self.assertIn('changed since attach', str(error))
