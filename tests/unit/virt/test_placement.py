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

import fixtures
from keystoneauth1 import exceptions as ks_exceptions
from nova.compute import provider_tree
from oslotest import base

from nova_usb import exception
from nova_usb.virt import devspec
from nova_usb.virt import placement
from tests.unit import fakes

ROOT = '11111111-1111-4111-8111-111111111111'
KEY1 = '22222222-2222-4222-8222-222222222222'
KEY2 = '33333333-3333-4333-8333-333333333333'
RC = 'CUSTOM_USB_1050_0407'


class NamesTestCase(base.BaseTestCase):

    def test_default_resource_class_from_vendor_and_product(self):
        device = fakes.host_usb_device(vendor_id='1050', product_id='040a')
        self.assertEqual('CUSTOM_USB_1050_040A', placement.resource_class(
            devspec.DeviceSpec(), device))

    def test_resource_class_and_traits_normalised_as_nova_does_for_pci(self):
        device = fakes.host_usb_device()
        spec = devspec.DeviceSpec(resource_class='bank_token',
                                  traits='fido2, CUSTOM_BANK,HW_CPU_X86_AVX')
        self.assertEqual('CUSTOM_BANK_TOKEN',
                         placement.resource_class(spec, device))
        self.assertEqual({'CUSTOM_FIDO2', 'CUSTOM_BANK', 'HW_CPU_X86_AVX'},
                         placement.traits(spec))
        self.assertEqual(set(), placement.traits(devspec.DeviceSpec()))


class UpdateProviderTreeTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tree = provider_tree.ProviderTree()
        self.tree.new_root('compute1', ROOT)
        # Another child of the node (a vGPU, a PCI device) is left alone.
        self.tree.new_child('compute1_pci_0000_81_00_0', ROOT)

    def update(self, providers, held=()):
        placement.update_provider_tree(self.tree, 'compute1', providers,
                                       set(held))

    def children(self):
        return {u: (self.tree.data(u).name, self.tree.data(u).inventory,
                    self.tree.data(u).traits)
                for u in self.tree.get_provider_uuids('compute1')
                if u != ROOT and '_usb_' in self.tree.data(u).name}

    def test_one_child_per_device_never_reserved(self):
        self.update({KEY1: (RC, set()), KEY2: (RC, {'CUSTOM_FIDO2'})},
                    held=[KEY1])
        self.assertEqual({
            KEY1: ('compute1_usb_' + KEY1, placement.inventory(RC), set()),
            KEY2: ('compute1_usb_' + KEY2, placement.inventory(RC),
                   {'CUSTOM_FIDO2'})}, self.children())
        # A holder is a consumer of the provider, never a reservation.
        self.assertEqual(0, self.children()[KEY1][1][RC]['reserved'])
        self.assertEqual(ROOT, self.tree.data(KEY1).parent_uuid)

    def test_a_device_gone_loses_its_provider_unless_held(self):
        self.update({KEY1: (RC, set()), KEY2: (RC, set())},
                    held=[KEY1, KEY2])
        # Both leave the host; KEY1 is held (allocated), KEY2 released.
        self.update({}, held=[KEY1])
        self.assertEqual({KEY1: ('compute1_usb_' + KEY1,
                                 placement.inventory(RC), set())},
                         self.children())
        self.assertTrue(self.tree.exists('compute1_pci_0000_81_00_0'))
        self.update({})
        self.assertEqual({}, self.children())

    def test_a_new_rule_changes_resource_class_and_traits(self):
        self.update({KEY1: (RC, {'CUSTOM_A'})})
        self.update({KEY1: ('CUSTOM_BANK', {'CUSTOM_B'})})
        self.assertEqual({KEY1: ('compute1_usb_' + KEY1,
                                 placement.inventory('CUSTOM_BANK'),
                                 {'CUSTOM_B'})}, self.children())


class AllocatedDeviceIdsTestCase(base.BaseTestCase):

    def test_only_usb_device_providers_of_the_tree(self):
        tree = provider_tree.ProviderTree()
        tree.new_root('compute1', ROOT)
        placement.update_provider_tree(tree, 'compute1',
                                       {KEY1: (RC, set())}, set())
        gpu = tree.new_child('compute1_pci_0000_81_00_0', ROOT)
        allocations = {ROOT: {'resources': {'VCPU': 1}},
                       gpu: {'resources': {'VGPU': 1}},
                       KEY1: {'resources': {RC: 1}},
                       KEY2: {'resources': {RC: 1}}}
        self.assertEqual([KEY1], placement.allocated_device_ids(
            allocations, tree))
        self.assertEqual([], placement.allocated_device_ids(None, tree))
        self.assertEqual([], placement.allocated_device_ids(allocations,
                                                            None))


class ReadTestCase(base.BaseTestCase):
    """A GET that could not connect is tried again; nothing else is.

    The reads are plain functions here: a connection placement closed is
    what is simulated, and only keystoneauth's exception for it matters.
    """

    def setUp(self):
        super().setUp()
        self.pauses = []
        self.useFixture(fixtures.MonkeyPatch(
            'nova_usb.virt.placement.time.sleep', self.pauses.append))

    def reads(self, *outcomes):
        outcomes = list(outcomes)
        calls = []

        def read(*args, **kwargs):
            calls.append((args, kwargs))
            outcome = outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        return read, calls

    def test_a_closed_connection_is_read_again(self):
        read, calls = self.reads(
            ks_exceptions.ConnectFailure('Remote end closed connection'),
            'answer')
        self.assertEqual('answer', placement._read(read, '/x', version='1'))
        self.assertEqual([(('/x',), {'version': '1'})] * 2, calls)
        self.assertEqual([0.5], self.pauses)

    def test_gives_up_after_the_last_attempt(self):
        failure = ks_exceptions.ConnectFailure('placement is down')
        read, calls = self.reads(failure, failure, failure)
        self.assertRaises(ks_exceptions.ConnectFailure, placement._read,
                          read, '/x')
        self.assertEqual(3, len(calls))
        self.assertEqual([0.5, 2], self.pauses)

    def test_other_errors_are_not_retried(self):
        read, calls = self.reads(ks_exceptions.EndpointNotFound('none'))
        self.assertRaises(ks_exceptions.EndpointNotFound, placement._read,
                          read, '/x')
        self.assertEqual(1, len(calls))
        self.assertEqual([], self.pauses)


class _ReportClient(object):
    """Nova's report client as far as a removal goes: each removal's
    outcome in turn (an exception raised, else applied), and the
    allocation it leaves. A plain object: a connection that placement
    dropped is what is simulated.
    """

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.allocation = {'allocations': {'d1': {'resources': {'R': 1}}}}
        self.removals = 0

    def remove_resources_from_instance_allocation(self, context, consumer,
                                                  resources):
        self.removals += 1
        outcome = self.outcomes.pop(0)
        if outcome in ('applied', 'applied then dropped'):
            self.allocation = {'allocations': {}}
        if outcome == 'applied then dropped':
            raise ks_exceptions.ConnectFailure('Remote end closed '
                                               'connection')
        if isinstance(outcome, Exception):
            raise outcome

    def get_allocs_for_consumer(self, context, consumer):
        return self.allocation


class RemoveTestCase(base.BaseTestCase):
    """Taking an unrequested device out at the start, when placement drops
    the connection: made once, never twice, never reported made when not.
    """

    def setUp(self):
        super().setUp()
        self.pauses = []
        self.useFixture(fixtures.MonkeyPatch(
            'nova_usb.virt.placement.time.sleep', self.pauses.append))

    def remove(self, client):
        placement.DeviceProviders(client)._remove_once(
            None, 'server', 'd1', {'resources': {'R': 1}})

    def test_dropped_before_the_write_is_written_again(self):
        client = _ReportClient(ks_exceptions.ConnectFailure('refused'),
                               'applied')
        self.remove(client)
        self.assertEqual((2, {}), (client.removals,
                                   client.allocation['allocations']))
        self.assertEqual([0.5], self.pauses)

    def test_dropped_after_the_write_is_not_written_again(self):
        client = _ReportClient('applied then dropped')
        self.remove(client)
        self.assertEqual((1, {}), (client.removals,
                                   client.allocation['allocations']))

    def test_gives_up_after_the_last_attempt(self):
        failure = ks_exceptions.ConnectFailure('placement is down')
        client = _ReportClient(failure, failure, failure)
        self.assertRaises(exception.UsbPlacementUnavailable, self.remove,
                          client)
        self.assertEqual(3, client.removals)
        self.assertEqual([0.5, 2], self.pauses)
