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

"""Which USB devices of a server's allocation its flavor asks for."""

from oslotest import base

from nova_usb.virt import placed_devices


class Flavor(object):

    def __init__(self, **extra_specs):
        self.extra_specs = extra_specs


KEY = 'CUSTOM_USB_1050_0407'
DONGLE = 'CUSTOM_LICENCE_DONGLE'


def allocations(**devices):
    return {device: {'resources': {rc: 1}} for device, rc in devices.items()}


class AskedByFlavorTestCase(base.BaseTestCase):

    def asked(self, flavor, allocated, before=(), through_api=()):
        return placed_devices._asked_by_flavor(
            flavor, allocated, sorted(allocated), list(before),
            set(through_api))

    def test_a_plain_flavor_asks_for_none(self):
        # An attach in progress put k1 into the allocation.
        self.assertEqual([], self.asked(Flavor(), allocations(k1=KEY)))

    def test_devices_held_through_the_api_are_not_the_flavors(self):
        flavor = Flavor(**{'resources:%s' % KEY: '1'})
        self.assertEqual(['k2'], self.asked(
            flavor, allocations(k1=KEY, k2=KEY), through_api=['k1']))

    def test_as_many_as_asked_per_class_those_had_before_first(self):
        flavor = Flavor(**{'resources1:%s' % KEY: '1',
                           'resources_lic:%s' % DONGLE: '1',
                           'hw:cpu_policy': 'shared'})
        self.assertEqual(['k2', 'l1'], self.asked(
            flavor, allocations(k1=KEY, k2=KEY, l1=DONGLE), before=['k2']))

    def test_granular_groups_add_up(self):
        flavor = Flavor(**{'resources1:%s' % KEY: '1',
                           'resources2:%s' % KEY: '1'})
        self.assertEqual(['k1', 'k2'], self.asked(
            flavor, allocations(k1=KEY, k2=KEY, k3=KEY)))
