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


"""The sandbox's parts that need no running Nova.

Its paste pipeline is the project's own, keystone's configuration holds
passwords made per run, its demo recording is what the recording generator
writes, and its glance stand-in answers what the clients ask.
"""

import io
import json
import os
import types

import fixtures
from oslotest import base
import webob
import yaml

from nova_usb.virt import devspec
from nova_usb_sandbox import config
from nova_usb_sandbox import demo
from nova_usb_sandbox import images
from nova_usb_sandbox import keystone
from nova_usb_sandbox import report
from tests.fixtures import usbgen

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))


def demo_host():
    """The recorded host of --demo-devices (demo-devices.umockdev).

    Regenerate the file with:
    python -c 'from tests.unit.sandbox.test_sandbox import demo_host;
    print(demo_host().recording(), end="")'
    """
    host = usbgen.Host.with_buses(1)
    host.add(usbgen.hub('1-1', devnum=2))
    for port, devnum, serial in (('1-1.1', 3, '17381956'),
                                 ('1-1.2', 4, '17381957')):
        host.add(usbgen.Device(
            port, '1050', '0407', devnum=devnum, serial=serial,
            manufacturer='Yubico', product='YubiKey OTP+FIDO+CCID',
            speed='12', interfaces=('03', '0b')))
    host.add(usbgen.Device('1-2', '0529', '0001', devnum=5,
                           manufacturer='SafeNet', product='Sentinel HL',
                           speed='12', interfaces=('ff',)))
    host.add(usbgen.Device('1-3', '046d', 'c31c', devnum=6,
                           manufacturer='Logitech', product='Keyboard K120',
                           speed='1.5', interfaces=('03',)))
    return host


def call(app, method, path, body=None, headers=None):
    request = webob.Request.blank(path, method=method, headers=headers or {})
    if body is not None:
        request.body = json.dumps(body).encode()
        request.content_type = 'application/json'
    return request.get_response(app)


class ConfigTestCase(base.BaseTestCase):

    def keystone(self, state):
        return keystone.Keystone(state, 'http://127.0.0.1:8/compute/v2.1',
                                 'http://127.0.0.1:8/image')

    def test_the_api_paste_ini_is_the_projects_own(self):
        with open(os.path.join(ROOT, 'etc', 'nova', 'api-paste.ini')) as f:
            project = f.read()
        with open(config.api_paste_ini()) as f:
            self.assertEqual(project, f.read())
        pipeline = config.paste_sections(project)[
            'composite:openstack_compute_api_v21']['keystone'].split()
        self.assertIn('authtoken', pipeline)

    def test_files_written(self):
        state = self.useFixture(fixtures.TempDir()).path
        identity = self.keystone(state)
        settings = config.Settings(
            state, 'sandbox', 'http://127.0.0.1:8', device_spec=[
                '{"vendor_id": "1050"}', '{"vendor_id": "0529"}'],
            keystone=identity)
        settings.write()
        with open(settings.nova_conf) as f:
            text = f.read()
        self.assertIn('device_spec = {"vendor_id": "1050"}\n'
                      'device_spec = {"vendor_id": "0529"}\n', text)
        self.assertIn('compute_driver = usb_libvirt.LibvirtUsbDriver', text)
        self.assertIn('api_paste_config = %s\n' % config.api_paste_ini(),
                      text)
        authtoken = settings.nova_sections()['keystone_authtoken']
        self.assertIn('[keystone_authtoken]\n', text)
        self.assertEqual(identity.url, authtoken['auth_url'])
        self.assertEqual('nova', authtoken['username'])
        self.assertEqual(identity.passwords['nova'], authtoken['password'])
        # The file holds a password: for its owner only.
        self.assertEqual(0o600, os.stat(settings.nova_conf).st_mode & 0o777)
        self.assertTrue(os.path.isdir(settings.path('instances')))

    def test_keystone_passwords_are_made_per_run(self):
        state = self.useFixture(fixtures.TempDir()).path
        one, two = self.keystone(state), self.keystone(state)
        self.assertEqual({'admin', 'nova', 'demo-member', 'demo-reader'},
                         set(one.passwords))
        for user in one.passwords:
            self.assertNotEqual(one.passwords[user], two.passwords[user])
            self.assertGreaterEqual(len(one.passwords[user]), 20)


class DemoRecordingTestCase(base.BaseTestCase):

    def test_is_what_the_generator_writes(self):
        with open(demo.RECORDING) as f:
            self.assertEqual(demo_host().recording(), f.read(),
                             'regenerate it: see demo_host()')

    def test_device_spec_selects_the_keys_and_the_dongle(self):
        specs = devspec.parse_device_specs(demo.DEVICE_SPEC)
        selected = [d.product for d in demo_host().devices
                    if any(devspec.matches(spec, types.SimpleNamespace(
                        vendor_id=d.vendor_id, product_id=d.product_id,
                        serial=d.serial, port_path=d.port_path,
                        device_class=d.device_class,
                        interface_classes=d.interfaces)) for spec in specs)]
        self.assertEqual(['YubiKey OTP+FIDO+CCID', 'YubiKey OTP+FIDO+CCID',
                          'Sentinel HL'], selected)


class ImagesTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.store = images.ImageStore()
        self.image = self.store.add_empty_image()
        self.app = images.ImageAPI(self.store)

    def test_store_as_nova_sees_it(self):
        shown = self.store.show(None, self.image['id'])
        self.assertEqual('empty', shown['name'])
        self.assertEqual(images.EMPTY_IMAGE_SIZE, shown['size'])
        data = io.BytesIO()
        self.store.download(None, self.image['id'], data=data)
        self.assertEqual(b'\0' * images.EMPTY_IMAGE_SIZE, data.getvalue())

    def test_api_lists_filters_and_shows(self):
        listed = call(self.app, 'GET', '/v2/images').json['images']
        self.assertEqual(['empty'], [i['name'] for i in listed])
        by_ids = call(self.app, 'GET', '/v2/images?id=in:%s,other'
                      % self.image['id']).json['images']
        self.assertEqual(1, len(by_ids))
        self.assertEqual([], call(self.app, 'GET', '/v2/images?name=x')
                         .json['images'])
        shown = call(self.app, 'GET', '/v2/images/%s' % self.image['id'])
        self.assertEqual('raw', shown.json['disk_format'])
        content = call(self.app, 'GET',
                       '/v2/images/%s/file' % self.image['id'])
        self.assertEqual(images.EMPTY_IMAGE_SIZE, len(content.body))

    def test_api_is_read_only(self):
        self.assertEqual(405, call(self.app, 'POST', '/v2/images',
                                   {}).status_int)
        self.assertEqual(404, call(self.app, 'GET',
                                   '/v2/images/nope').status_int)


class ReportTestCase(base.BaseTestCase):

    def test_environment_and_clouds_yaml_agree(self):
        identity = keystone.Keystone('/s', 'http://127.0.0.1:8/compute/v2.1',
                                     'http://127.0.0.1:8/image')
        settings = config.Settings('/s', 'sandbox', 'http://127.0.0.1:8',
                                   keystone=identity)
        env = report.environment(settings)
        cloud = yaml.safe_load(report.clouds_yaml(settings))['clouds'][
            report.CLOUD_NAME]
        self.assertEqual(env['OS_AUTH_URL'], cloud['auth']['auth_url'])
        self.assertEqual(identity.url, env['OS_AUTH_URL'])
        self.assertEqual(env['OS_USERNAME'], cloud['auth']['username'])
        self.assertEqual(identity.passwords['admin'], env['OS_PASSWORD'])
        self.assertEqual(env['OS_PASSWORD'], cloud['auth']['password'])
        self.assertEqual(env['OS_PROJECT_NAME'],
                         cloud['auth']['project_name'])
