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

Its paste pipeline is the project's own but for authentication, its demo
recording is what the recording generator writes, and its stand-ins for
keystone and glance answer what the clients ask.
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
from nova_usb_sandbox import auth
from nova_usb_sandbox import config
from nova_usb_sandbox import demo
from nova_usb_sandbox import images
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


class PasteTestCase(base.BaseTestCase):

    def test_the_projects_pipeline_but_for_keystone(self):
        with open(os.path.join(ROOT, 'etc', 'nova', 'api-paste.ini')) as f:
            project = config.paste_sections(f.read())
        sandbox = config.paste_sections(config.render(config.API_PASTE))
        expected = {}
        for name, options in project.items():
            if name == 'filter:authtoken':
                name, options = 'filter:sandboxauth', {
                    'paste.filter_factory':
                        'nova_usb_sandbox.auth:TokenAuth.factory'}
            expected[name] = {
                key: ' '.join(value.replace(
                    'authtoken', 'sandboxauth').split())
                for key, value in options.items()}
        sandbox = {name: {k: ' '.join(v.split()) for k, v in opts.items()}
                   for name, opts in sandbox.items()}
        self.assertEqual(expected, sandbox)

    def test_files_written(self):
        state = self.useFixture(fixtures.TempDir()).path
        settings = config.Settings(
            state, 'sandbox', 'http://127.0.0.1:8', device_spec=[
                '{"vendor_id": "1050"}', '{"vendor_id": "0529"}'])
        settings.write()
        with open(settings.nova_conf) as f:
            text = f.read()
        self.assertIn('device_spec = {"vendor_id": "1050"}\n'
                      'device_spec = {"vendor_id": "0529"}\n', text)
        self.assertIn('compute_driver = usb_libvirt.LibvirtUsbDriver', text)
        self.assertIn('api_paste_config = %s' % settings.api_paste_ini, text)
        self.assertTrue(os.path.isdir(settings.path('instances')))


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


class TokenAuthTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.seen = {}

        def app(environ, start_response):
            self.seen.update({k: v for k, v in environ.items()
                              if k.startswith('HTTP_X_')})
            start_response('200 OK', [])
            return [b'']

        self.app = auth.TokenAuth(app)

    def test_parse_token(self):
        self.assertEqual(('admin', 'admin', auth.ADMIN_ROLES),
                         auth.parse_token('admin'))
        self.assertEqual(('alice', 'bank', auth.USER_ROLES),
                         auth.parse_token('alice:bank'))
        self.assertEqual(('bob', 'bank', ('reader',)),
                         auth.parse_token('bob:bank:reader'))

    def test_no_token_is_401_that_says_what_to_send(self):
        response = call(self.app, 'GET', '/servers')
        self.assertEqual(401, response.status_int)
        self.assertIn(b'user:project', response.body)

    def test_token_becomes_keystone_headers(self):
        response = call(self.app, 'GET', '/servers', headers={
            'X-Auth-Token': 'alice:bank', 'X-Roles': 'admin',
            'X-Project-Id': 'other'})
        self.assertEqual(200, response.status_int)
        self.assertEqual('alice', self.seen['HTTP_X_USER_ID'])
        self.assertEqual('bank', self.seen['HTTP_X_PROJECT_ID'])
        self.assertEqual('member,reader', self.seen['HTTP_X_ROLES'])


class IdentityTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.app = auth.Identity({'compute': 'http://h/compute/v2.1'})

    def test_versions(self):
        response = call(self.app, 'GET', '/')
        self.assertEqual(300, response.status_int)
        self.assertEqual('v3.14',
                         response.json['versions']['values'][0]['id'])
        self.assertEqual(200, call(self.app, 'GET', '/v3').status_int)

    def test_password_gives_user_project_token_and_catalog(self):
        response = call(self.app, 'POST', '/v3/auth/tokens', {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': 'alice', 'domain': {'name': 'Default'},
                'password': 'anything'}}},
            'scope': {'project': {'name': 'bank',
                                  'domain': {'name': 'Default'}}}}})
        self.assertEqual(201, response.status_int)
        self.assertEqual('alice:bank', response.headers['X-Subject-Token'])
        token = response.json['token']
        self.assertEqual(['member', 'reader'],
                         [r['name'] for r in token['roles']])
        self.assertEqual('bank', token['project']['id'])
        compute = token['catalog'][0]
        self.assertEqual('compute', compute['type'])
        self.assertEqual({'http://h/compute/v2.1'},
                         {e['url'] for e in compute['endpoints']})

    def test_rescoping_a_token(self):
        response = call(self.app, 'POST', '/v3/auth/tokens', {'auth': {
            'identity': {'methods': ['token'],
                         'token': {'id': 'admin:admin'}},
            'scope': {'project': {'id': 'bank'}}}})
        self.assertEqual('admin:bank', response.headers['X-Subject-Token'])
        self.assertIn('admin', [r['name'] for r in
                                response.json['token']['roles']])

    def test_anything_else_says_there_is_no_keystone(self):
        response = call(self.app, 'GET', '/v3/projects')
        self.assertEqual(404, response.status_int)
        self.assertIn('no keystone', response.json['error']['message'])


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
        settings = config.Settings('/s', 'sandbox', 'http://127.0.0.1:8')
        env = report.environment(settings)
        cloud = yaml.safe_load(report.clouds_yaml(settings))['clouds'][
            report.CLOUD_NAME]
        self.assertEqual(env['OS_AUTH_URL'], cloud['auth']['auth_url'])
        self.assertEqual('http://127.0.0.1:8/identity', env['OS_AUTH_URL'])
        self.assertEqual(env['OS_USERNAME'], cloud['auth']['username'])
        self.assertEqual(env['OS_PROJECT_NAME'],
                         cloud['auth']['project_name'])
