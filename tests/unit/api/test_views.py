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

import ast
import unicodedata

import hypothesis
from hypothesis import strategies as st
from nova_usbclient import statuses
from oslotest import base

from nova_usb.api import views
from nova_usb import records

ESCAPED = ('Cc', 'Cf', 'Cs', 'Zl', 'Zp')


class EscapeTestCase(base.BaseTestCase):

    def test_escapes(self):
        for raw, shown in (
                ('Evil\x1b[2JKey\nline\r\t', 'Evil\\x1b[2JKey\\nline\\r\\t'),
                ('\x00\x7f\x9b', '\\x00\\x7f\\x9b'),
                ('abc\u202edef\u200b', 'abc\\u202edef\\u200b'),
                ('a\u2028b\u2029c', 'a\\u2028b\\u2029c'),
                ('tag\U000e0041', 'tag\\U000e0041'),
                ('lone \udcff', 'lone \\udcff'),
                # Printable, non-ASCII and spaces included: as they are.
                ('M\u00fcller \u00dc \u00a0\u3000\u2603 \\x1b',
                 'M\u00fcller \u00dc \u00a0\u3000\u2603 \\x1b'),
                ('', '')):
            self.assertEqual(shown, views.escape(raw))
        self.assertEqual(['\\n', 'x'], views.escape(('\n', 'x')))
        for other in (None, 3, 1.5, True):
            self.assertIs(other, views.escape(other))

    @hypothesis.settings(max_examples=300, deadline=None, database=None)
    @hypothesis.given(st.text())
    def test_no_control_character_is_left(self, raw):
        shown = views.escape(raw)
        self.assertEqual([], [c for c in shown
                              if unicodedata.category(c) in ESCAPED])
        # Python's own escapes: read back as a string literal, the text
        # is the device's (unambiguous when it holds no backslash).
        if '\\' not in raw:
            self.assertEqual(raw, ast.literal_eval(
                "'%s'" % shown.replace("'", "\\'")))

    def test_views_escape_every_string(self):
        device = records.HostDevice(
            id='d', host='h', vendor_id='1050', product_id='0407',
            vendor_name='V\x1b', product_name='P\n', serial='S\x07',
            bus=1, devnum=2, port_path='1-1', device_class='00',
            interface_classes=['03'], is_hub=False, assignable=True)
        held = records.ServerDevice.of_host_device(
            device, status=statuses.ATTACHED)
        for view in (views.host_device(device),
                     views.available_device(device, True),
                     views.server_device(held, False)):
            self.assertEqual(('V\\x1b', 'P\\n', 'S\\x07', ['03'], 1), (
                view['vendor_name'], view['product_name'], view['serial'],
                view['interface_classes'], view['bus']))

    def test_shown_id(self):
        self.assertEqual('\\x1bab', views.shown_id('\x1bab'))
        self.assertEqual('a' * 64 + '...', views.shown_id('a' * 100))
