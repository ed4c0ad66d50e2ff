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
from oslotest import base

from nova_usb.cmd import manage
from nova_usb.virt import devspec
from nova_usb.virt import usb_device
from tests.unit import fakes


class DescribeTestCase(base.BaseTestCase):

    def test_assignable_and_not(self):
        key, hub = usb_device.with_ids([
            fakes.host_usb_device(),
            fakes.host_usb_device(device_class='09', port_path='1-3',
                                  serial=None)])
        specs = (devspec.DeviceSpec(vendor_id='1050'),)
        rows = [manage.describe(key, specs), manage.describe(hub, specs)]
        self.assertEqual([True, False], [r['assignable'] for r in rows])
        self.assertEqual([None, devspec.REASON_HUB],
                         [r['reason'] for r in rows])
        self.assertEqual(key.id, rows[0]['id'])

    def test_table_has_every_column(self):
        key = usb_device.with_ids([fakes.host_usb_device()])[0]
        table = manage._format_table([manage.describe(key, ())])
        header = table.splitlines()[1]
        for column in manage.TABLE_COLUMNS:
            self.assertIn(column, header)
        self.assertIn(key.id, table)
        self.assertIn(devspec.REASON_NO_SPEC, table)

    def test_table_escapes_what_a_device_says_of_itself(self):
        # A product name that would clear the operator's screen, a serial
        # that would start a line of its own.
        key = usb_device.with_ids([fakes.host_usb_device(
            product_name='Token\x1b[2J\x1b[31m', serial='12\n34')])[0]
        table = manage._format_table([manage.describe(key, ())])
        self.assertNotIn('\x1b', table)
        self.assertIn('Token\\x1b[2J\\x1b[31m', table)
        self.assertIn('12\\n34', table)
        self.assertEqual(5, len(table.splitlines()))

    def test_command_is_required(self):
        stderr = self.useFixture(fixtures.StringStream('stderr'))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr.stream))
        self.assertRaises(SystemExit, manage.main, [])
        self.assertIn('required: COMMAND', stderr.getDetails()[
            'stderr'].as_text())


class ParserTestCase(base.BaseTestCase):

    def test_config_options_before_or_after_the_command(self):
        parser = manage._parser()
        before = parser.parse_args(['--config-file', 'a.conf',
                                    'host-devices', '--format', 'json'])
        after = parser.parse_args(['host-devices', '--config-file', 'a.conf',
                                   '--config-dir', 'd'])
        neither = parser.parse_args(['host-devices'])
        self.assertEqual((['a.conf'], [], 'json'),
                         (before.config_file, before.config_dir,
                          before.format))
        self.assertEqual((['a.conf'], ['d'], 'table'),
                         (after.config_file, after.config_dir, after.format))
        self.assertEqual(([], []), (neither.config_file, neither.config_dir))
