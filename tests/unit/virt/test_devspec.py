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

from oslotest import base

from nova_usb import exception
from nova_usb.virt import devspec
from tests.unit import fakes


class ParseDeviceSpecTestCase(base.BaseTestCase):

    def test_every_field_is_parsed_and_normalised(self):
        spec, = devspec.parse_device_specs([
            '{"vendor_id": "1050", "product_id": "040A", "serial": "S1",'
            ' "port_path": "1-2.3", "device_class": "0B"}'])
        self.assertEqual(devspec.DeviceSpec(
            vendor_id='1050', product_id='040a', serial='S1',
            port_path='1-2.3', device_class='0b'), spec)

    def test_missing_and_star_fields_are_wildcards(self):
        specs = devspec.parse_device_specs(
            ['{"all_devices": true}',
             '{"vendor_id": "*", "product_id": "0001"}'])
        self.assertEqual((devspec.DeviceSpec(),
                          devspec.DeviceSpec(product_id='0001')), specs)

    def test_a_rule_for_every_device_must_say_so(self):
        for entry in ('{}', '{"vendor_id": "*", "product_id": "*"}',
                      '{"serial": "*", "projects": "*", "use": "api"}',
                      '{"all_devices": false}'):
            self.assertInvalid([entry], 'entry 1', 'selects every USB '
                               'device', '"all_devices": true')
        self.assertInvalid(['{"vendor_id": "1050", "all_devices": true}'],
                           '"all_devices": true is for a rule that selects '
                           'every device')
        self.assertInvalid(['{"all_devices": "yes"}'],
                           '"all_devices" must be true or false')

    def test_projects_and_use(self):
        spec, = devspec.parse_device_specs([
            '{"vendor_id": "1050", "projects": ["p2", "p1", "p2"],'
            ' "use": "api"}'])
        self.assertEqual(('p1', 'p2'), spec.projects)
        self.assertEqual('api', spec.use)
        self.assertTrue(spec.grants('p1'))
        self.assertFalse(spec.grants('p3'))
        self.assertTrue(spec.for_api())
        self.assertFalse(spec.for_flavors())
        every, = devspec.parse_device_specs(
            ['{"vendor_id": "1050", "projects": "*", "use": "flavor"}'])
        self.assertTrue(every.grants('anyone'))
        self.assertFalse(every.for_api())
        self.assertTrue(every.for_flavors())
        default, = devspec.parse_device_specs(['{"vendor_id": "1050"}'])
        self.assertEqual((), default.projects)
        self.assertFalse(default.grants('p1'))
        self.assertEqual('any', default.use)
        self.assertTrue(default.for_api() and default.for_flavors())

    def test_bad_projects_and_use(self):
        for projects in ('"p1"', '[1]', '["has space"]', '[""]', '{}'):
            self.assertInvalid(
                ['{"vendor_id": "1050", "projects": %s}' % projects],
                '"projects" must be a list of project ids')
        self.assertInvalid(['{"vendor_id": "1050", "use": "both"}'],
                           '"use" must be one of "any", "api", "flavor"')

    def test_no_entries(self):
        self.assertEqual((), devspec.parse_device_specs([]))
        self.assertEqual((), devspec.parse_device_specs(None))

    def test_port_path_forms(self):
        for good in ('1-2', '1-2.3', '12-1.4.2.1', '1-4.*'):
            spec, = devspec.parse_device_specs(
                ['{"port_path": "%s"}' % good])
            self.assertEqual(good, spec.port_path)

    def assertInvalid(self, entries, *fragments):
        error = self.assertRaises(exception.InvalidDeviceSpec,
                                  devspec.parse_device_specs, entries)
        for fragment in fragments:
            self.assertIn(fragment, str(error))
        self.assertEqual(400, error.code)

    def test_bad_entries_are_named_with_their_number(self):
        good = '{"vendor_id": "1050"}'
        self.assertInvalid([good, '{"vendor": "1050"}'],
                           'entry 2', '{"vendor": "1050"}',
                           'unknown key "vendor"', 'vendor_id')

    def test_invalid_json(self):
        self.assertInvalid(['{vendor_id: 1050}'], 'entry 1',
                           'not valid JSON')

    def test_not_an_object(self):
        for entry in ('[]', '"1050"', '12', 'null'):
            self.assertInvalid([entry], 'must be a JSON object')

    def test_values_must_be_strings(self):
        self.assertInvalid(['{"vendor_id": 1050}'],
                           '"vendor_id" must be a string')

    def test_malformed_values(self):
        cases = [
            ('vendor_id', '105', '4 hexadecimal digits'),
            ('vendor_id', '10500', '4 hexadecimal digits'),
            ('product_id', 'xyz1', '4 hexadecimal digits'),
            ('device_class', '3', '2 hexadecimal digits'),
            ('port_path', 'usb1', 'kernel port path'),
            ('port_path', '1-2.', 'kernel port path'),
            ('port_path', '1-*', 'kernel port path'),
            ('port_path', "1-2'/><x", 'kernel port path'),
            ('serial', '  ', 'must not be empty'),
        ]
        for key, value, message in cases:
            self.assertInvalid(['{"%s": "%s"}' % (key, value)],
                               '"%s"' % key, message)


class MatchTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.key = fakes.host_usb_device(
            vendor_id='1050', product_id='0407', serial='S1',
            port_path='1-2.3', device_class='00',
            interface_classes=('03', '0b'))

    def spec(self, **fields):
        return devspec.DeviceSpec(**fields)

    def test_empty_spec_matches_everything(self):
        self.assertTrue(devspec.matches(self.spec(), self.key))

    def test_each_field_must_match(self):
        matching = dict(vendor_id='1050', product_id='0407', serial='S1',
                        port_path='1-2.3', device_class='03')
        self.assertTrue(devspec.matches(self.spec(**matching), self.key))
        other = dict(vendor_id='1051', product_id='0408', serial='S2',
                     port_path='1-2.4', device_class='08')
        for field, value in other.items():
            fields = dict(matching, **{field: value})
            self.assertFalse(devspec.matches(self.spec(**fields), self.key),
                             field)

    def test_serial_never_matches_a_device_without_one(self):
        anonymous = fakes.host_usb_device(serial=None)
        self.assertFalse(devspec.matches(self.spec(serial='S1'), anonymous))

    def test_device_class_matches_device_or_interface(self):
        printer = fakes.host_usb_device(device_class='07',
                                        interface_classes=())
        self.assertTrue(devspec.matches(self.spec(device_class='07'),
                                        printer))
        self.assertTrue(devspec.matches(self.spec(device_class='0b'),
                                        self.key))
        self.assertFalse(devspec.matches(self.spec(device_class='00'),
                                         printer))

    def test_port_path_below_a_port(self):
        below = self.spec(port_path='1-2.*')
        self.assertTrue(devspec.matches(below, self.key))
        self.assertTrue(devspec.matches(
            below, fakes.host_usb_device(port_path='1-2.3.1')))
        self.assertFalse(devspec.matches(
            below, fakes.host_usb_device(port_path='1-2')))
        self.assertFalse(devspec.matches(
            below, fakes.host_usb_device(port_path='1-20.1')))
        self.assertFalse(devspec.matches(
            self.spec(port_path='1-2'), self.key))


class UnassignableReasonTestCase(base.BaseTestCase):

    everything = (devspec.DeviceSpec(),)

    def test_assignable(self):
        self.assertIsNone(devspec.unassignable_reason(
            self.everything, fakes.host_usb_device()))

    def test_empty_spec_assigns_nothing(self):
        reason = devspec.unassignable_reason((), fakes.host_usb_device())
        self.assertEqual(devspec.REASON_NO_SPEC, reason)

    def test_not_matched(self):
        specs = (devspec.DeviceSpec(vendor_id='ffff'),)
        self.assertEqual(devspec.REASON_NOT_MATCHED,
                         devspec.unassignable_reason(specs,
                                                     fakes.host_usb_device()))

    def test_hubs_never(self):
        hub = fakes.host_usb_device(device_class='09')
        root = fakes.host_usb_device(device_class='09', is_root_hub=True,
                                     port_path='usb1')
        self.assertEqual(devspec.REASON_HUB,
                         devspec.unassignable_reason(self.everything, hub))
        self.assertEqual(devspec.REASON_ROOT_HUB,
                         devspec.unassignable_reason(self.everything, root))
        self.assertIn('hub', devspec.REASON_HUB)


class PlacementKeysTestCase(base.BaseTestCase):
    """resource_class and traits say how matched devices are reported to
    placement; they never change which devices match.
    """

    def test_parsed_as_given(self):
        spec, = devspec.parse_device_specs([
            '{"vendor_id": "1050", "resource_class": "bank_token",'
            ' "traits": "CUSTOM_FIDO2, bank"}'])
        self.assertEqual(devspec.DeviceSpec(
            vendor_id='1050', resource_class='bank_token',
            traits='CUSTOM_FIDO2, bank'), spec)

    def test_malformed(self):
        for key, value in (('resource_class', 'bank token'),
                           ('resource_class', ''),
                           ('traits', 'CUSTOM_A,CUSTOM B'),
                           ('traits', 'CUSTOM_A,')):
            error = self.assertRaises(
                exception.InvalidDeviceSpec, devspec.parse_device_specs,
                ['{"%s": "%s"}' % (key, value)])
            self.assertIn('"%s"' % key, str(error))

    def test_the_first_matching_rule_is_the_devices(self):
        specs = devspec.parse_device_specs([
            '{"serial": "S1", "resource_class": "first"}',
            '{"vendor_id": "1050", "resource_class": "second"}'])
        key = fakes.host_usb_device(vendor_id='1050', serial='S1')
        other = fakes.host_usb_device(vendor_id='1050', serial='S2')
        self.assertEqual('first',
                         devspec.matching_spec(specs, key).resource_class)
        self.assertEqual('second',
                         devspec.matching_spec(specs, other).resource_class)
        self.assertIsNone(devspec.matching_spec(
            specs, fakes.host_usb_device(vendor_id='ffff')))

    def test_hubs_have_no_rule(self):
        hub = fakes.host_usb_device(device_class='09')
        self.assertIsNone(devspec.matching_spec((devspec.DeviceSpec(),),
                                                hub))
