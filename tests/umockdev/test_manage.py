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

"""nova-usb-manage host-devices, run as operators run it.

The installed console script runs in its own process under umockdev-run,
which loads a recording and preloads umockdev for it, so this covers the
entry point, option parsing and output as well as the inventory.
"""

import json
import os
import subprocess
import sys

import fixtures
from oslotest import base

from nova_usb.virt import devspec
from nova_usb.virt import usb_device
from tests.fixtures import usbgen
from tests.umockdev import base as umockdev_base
from tests.umockdev import recordings

HOST = 'test-host'
CANON_SPEC = '{"vendor_id": "04a9"}'
# The camera's id under its serial on test-host. Written out so that a
# change of the id namespace or format, which would orphan every id
# already given out, fails here.
CAMERA_ID = '62f4a790-088b-505b-a1d4-d4210ac7b7d9'
KEYS = {'id', 'host', 'vendor_id', 'product_id', 'vendor_name',
        'product_name', 'serial', 'bus', 'devnum', 'port_path', 'speed',
        'device_class', 'interface_classes', 'is_hub', 'is_root_hub',
        'assignable', 'reason'}
TIMEOUT = 60


class TestHostDevices(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.script = os.path.join(os.path.dirname(sys.executable),
                                   'nova-usb-manage')
        self.assertTrue(os.access(self.script, os.X_OK),
                        '%s is not installed' % self.script)
        self.tempdir = self.useFixture(fixtures.TempDir()).path

    def _run(self, name, specs=(CANON_SPEC,), output='json', path=None):
        config = os.path.join(self.tempdir, 'nova.conf')
        with open(config, 'w') as conf:
            conf.write('[DEFAULT]\nhost = %s\n[usb]\n' % HOST)
            conf.writelines('device_spec = %s\n' % spec for spec in specs)
        # umockdev-run preloads umockdev for the command itself; inherited
        # from a test run under umockdev-wrapper, the preload would apply
        # to umockdev-run too.
        env = {k: v for k, v in os.environ.items()
               if k not in ('LD_PRELOAD', 'UMOCKDEV_DIR')}
        return subprocess.run(
            ['umockdev-run', '-d', path or umockdev_base.recording(name),
             '--',
             self.script, '--config-file', config, 'host-devices',
             '--format', output],
            env=env, capture_output=True, text=True, timeout=TIMEOUT)

    def _json(self, name, specs=(CANON_SPEC,), path=None):
        result = self._run(name, specs, path=path)
        self.assertEqual(0, result.returncode, result.stderr)
        return json.loads(result.stdout)

    def _check(self, name):
        rows = self._json(name)

        expected = recordings.EXPECTED[name]
        self.assertEqual([e[0] for e in expected],
                         [r['port_path'] for r in rows])
        for row, values in zip(rows, expected):
            self.assertEqual(KEYS, set(row))
            (port, vendor, product, vendor_name, product_name, serial,
             devnum, speed, device_class, interfaces) = values
            self.assertEqual(
                {'host': HOST, 'vendor_id': vendor, 'product_id': product,
                 'vendor_name': vendor_name, 'product_name': product_name,
                 'serial': serial, 'bus': 1, 'devnum': devnum,
                 'port_path': port, 'speed': speed,
                 'device_class': device_class,
                 'interface_classes': list(interfaces),
                 'is_hub': device_class == '09',
                 'is_root_hub': port == 'usb1',
                 'id': usb_device.device_id(HOST, vendor, product,
                                            serial=serial, port_path=port)},
                {k: v for k, v in row.items()
                 if k not in ('assignable', 'reason')})
            if port == 'usb1':
                reason = devspec.REASON_ROOT_HUB
            elif device_class == '09':
                reason = devspec.REASON_HUB
            elif vendor == '04a9':
                reason = None
            else:
                reason = devspec.REASON_NOT_MATCHED
            self.assertEqual((reason is None, reason),
                             (row['assignable'], row['reason']))
        return rows

    def test_canon_camera_is_assignable(self):
        rows = self._check('canon-powershot-sx200')

        self.assertEqual([('1-1.5.2.3', CAMERA_ID)],
                         [(r['port_path'], r['id'])
                          for r in rows if r['assignable']])

    def test_sony_phone(self):
        rows = self._check('sony-xperia-mini-pro')

        self.assertEqual([], [r for r in rows if r['assignable']])

    def test_keyboard(self):
        self._check('usbkbd')

    def test_fido2_key(self):
        rows = self._check('fido2')

        self.assertEqual(devspec.REASON_NOT_MATCHED, rows[-1]['reason'])

    def test_no_device_spec_assigns_nothing(self):
        rows = self._json('fido2', specs=())

        self.assertEqual(
            [devspec.REASON_ROOT_HUB, devspec.REASON_HUB,
             devspec.REASON_NO_SPEC],
            [r['reason'] for r in rows])
        self.assertEqual([False] * 3, [r['assignable'] for r in rows])

    def test_malformed_device_spec(self):
        result = self._run('canon-powershot-sx200',
                           specs=(CANON_SPEC, '{"vendor": "04a9"}'))

        self.assertEqual(2, result.returncode)
        self.assertEqual('', result.stdout)
        self.assertIn('Invalid [usb] device_spec entry 2 '
                      '({"vendor": "04a9"}): unknown key "vendor"',
                      result.stderr)

    def test_table(self):
        result = self._run('canon-powershot-sx200', output='table')

        self.assertEqual(0, result.returncode, result.stderr)
        lines = result.stdout.splitlines()
        cells = [[c.strip() for c in line.strip('|').split('|')]
                 for line in lines if line.startswith('|')]
        self.assertEqual(['id', 'bus', 'devnum', 'port_path', 'vendor_id',
                          'product_id', 'product_name', 'serial',
                          'assignable', 'reason'], cells[0])
        self.assertEqual(
            [CAMERA_ID, '1', '11', '1-1.5.2.3', '04a9', '31c0',
             'Canon Digital Camera', 'C767F1C714174C309255F70E4A7B2EE2',
             'True', ''], cells[-1])
        self.assertEqual(['usb1', '1-1', '1-1.5', '1-1.5.2', '1-1.5.2.3'],
                         [row[3] for row in cells[1:]])
        self.assertEqual(devspec.REASON_HUB, cells[2][-1])

    def test_generated_host(self):
        # Identical tokens, a constant serial and a rule by serial, end to
        # end: the ids operators see and write rules against.
        host = usbgen.Host.with_buses(1, 2, usb3=(2,))
        for port, devnum, serial in (('1-1', 2, '0001234'),
                                     ('1-2', 3, '0005678'),
                                     ('1-3', 4, '000000000001'),
                                     ('1-4', 5, '000000000001'),
                                     ('2-1', 2, None)):
            host.add(usbgen.Device(port, '1050', '0407', devnum,
                                   serial=serial, manufacturer='Yubico',
                                   product='YubiKey', interfaces=('03',)))
        path = os.path.join(self.tempdir, 'tokens.umockdev')
        with open(path, 'w') as recording:
            recording.write(host.recording())

        rows = self._json(None, path=path, specs=(
            '{"vendor_id": "1050", "serial": "0001234"}',
            '{"port_path": "1-3"}'))

        def by_serial(serial):
            return usb_device.device_id(HOST, '1050', '0407', serial=serial)

        def by_port(port):
            return usb_device.device_id(HOST, '1050', '0407',
                                        port_path=port)

        self.assertEqual(
            [('usb1', False), ('1-1', True, by_serial('0001234')),
             ('1-2', False, by_serial('0005678')),
             ('1-3', True, by_port('1-3')), ('1-4', False, by_port('1-4')),
             ('usb2', False), ('2-1', False, by_port('2-1'))],
            [(r['port_path'], r['assignable']) +
             (() if r['is_hub'] else (r['id'],)) for r in rows])
