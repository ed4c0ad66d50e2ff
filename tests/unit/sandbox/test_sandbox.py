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
passwords made per run, nova-api has nova-usb's database and Nova's unified
limits, keystone gets the limits and the demo project the demo devices, its
demo recording is what the recording generator writes, and its glance
stand-in answers what the clients ask.
"""

import configparser
import io
import json
import os
import stat
import types
from unittest import mock

import fixtures
from keystoneauth1 import loading as ks_loading
from nova_usbclient import api as usb_api
from oslo_limit import opts as limit_opts
from oslotest import base
import webob
import yaml

from nova_usb.virt import devspec
from nova_usb_sandbox import cli
from nova_usb_sandbox import config
from nova_usb_sandbox import demo
from nova_usb_sandbox import images
from nova_usb_sandbox import keystone
from nova_usb_sandbox import launcher
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

    def test_nova_usb_database_and_unified_limits(self):
        state = self.useFixture(fixtures.TempDir()).path
        identity = self.keystone(state)
        settings = config.Settings(state, 'sandbox', 'http://127.0.0.1:8',
                                   keystone=identity)
        settings.write()
        # Section by section, without [DEFAULT]'s options in each.
        parser = configparser.ConfigParser(interpolation=None,
                                           default_section='not-a-section')
        parser.read(settings.nova_conf)
        nova = {name: dict(parser[name]) for name in parser.sections()}
        self.assertEqual('sqlite:///%s/nova_usb.sqlite' % state,
                         nova['usb_database']['connection'])
        self.assertEqual('nova.quota.UnifiedLimitsDriver',
                         nova['quota']['driver'])
        # As Nova's unified limits guide says: nova's own credentials,
        # system-scoped; the compute endpoint found by type and region.
        self.assertEqual({
            'auth_url': identity.url,
            'auth_type': 'password',
            'username': 'nova',
            'password': identity.passwords['nova'],
            'user_domain_name': 'Default',
            'system_scope': 'all',
            'endpoint_service_type': 'compute',
            'endpoint_region_name': keystone.REGION,
        }, nova['oslo_limit'])
        # Options oslo.limit and keystoneauth's password plugin know.
        known = {opt.dest for _group, opts in limit_opts.list_opts()
                 for opt in opts}
        known.update(opt.dest for opt in
                     ks_loading.get_auth_common_conf_options())
        self.assertEqual(set(), set(nova['oslo_limit']) - known)

    def test_keystone_passwords_are_made_per_run(self):
        state = self.useFixture(fixtures.TempDir()).path
        one, two = self.keystone(state), self.keystone(state)
        self.assertEqual({'admin', 'nova', 'demo-member', 'demo-reader',
                          'other-member'}, set(one.passwords))
        for user in one.passwords:
            self.assertNotEqual(one.passwords[user], two.passwords[user])
            self.assertGreaterEqual(len(one.passwords[user]), 20)


class SecretsTestCase(base.BaseTestCase):
    """No other user of the machine learns the sandbox's passwords: not
    from its files, not from a process's command line (``ps``).
    """

    def setUp(self):
        super().setUp()
        self.state = self.useFixture(fixtures.TempDir()).path
        self.identity = keystone.Keystone(
            self.state, 'http://127.0.0.1:8/compute/v2.1',
            'http://127.0.0.1:8/image')

    def test_clouds_yaml_is_created_for_its_owner_only(self):
        settings = config.Settings(self.state, 'sandbox',
                                   'http://127.0.0.1:8',
                                   keystone=self.identity)
        path = settings.path('clouds.yaml')
        # One left by an earlier run, readable by all, is replaced.
        with open(path, 'w') as old:
            old.write('old')
        os.chmod(path, 0o644)
        # Created so, whatever the umask: never chmod-ed afterwards.
        old_umask = os.umask(0)
        self.addCleanup(os.umask, old_umask)
        for name in ('chmod', 'fchmod'):
            self.useFixture(fixtures.MockPatch(
                'os.' + name, side_effect=AssertionError(name)))
        launcher.Sandbox._write_clouds_yaml(
            types.SimpleNamespace(settings=settings))
        self.assertEqual(0o600, stat.S_IMODE(os.stat(path).st_mode))
        with open(path) as f:
            self.assertIn(self.identity.passwords['admin'], f.read())

    def test_keystone_commands_carry_no_password(self):
        started = []

        def popen(argv, **kwargs):
            started.append((argv, kwargs.get('env') or os.environ))
            return mock.Mock(returncode=0, **{'wait.return_value': 0})

        self.useFixture(fixtures.MockPatch(
            'nova_usb_sandbox.keystone.subprocess.Popen', side_effect=popen))
        self.useFixture(fixtures.MockPatchObject(
            keystone.Keystone, '_wait_answers'))
        self.identity._configure()

        commands = [argv[3] if len(argv) > 3 else argv[-1]
                    for argv, _ in started]
        self.assertIn('bootstrap', commands)
        for argv, _ in started:
            for secret in self.identity.passwords.values():
                self.assertFalse([arg for arg in argv if secret in arg],
                                 argv)
        env = dict(started[commands.index('bootstrap')][1])
        self.assertEqual(self.identity.passwords['admin'],
                         env['OS_BOOTSTRAP_PASSWORD'])

    def test_the_database_url_may_come_from_the_environment(self):
        url = 'mysql+pymysql://nova:secret@127.0.0.1/sandbox'
        self.useFixture(fixtures.EnvironmentVariable(cli.DATABASE_ENV, url))
        self.assertEqual(url, cli.parse_args([]).database)
        self.assertEqual('mysql+pymysql://other@h/n', cli.parse_args(
            ['--database', 'mysql+pymysql://other@h/n']).database)


class FakeKeystoneAPI(object):
    """keystone's API as _add_accounts calls it: ids made of the names."""

    def __init__(self):
        self.calls = []

    def request(self, url, method, json=None, raise_exc=True):
        path = url.split('/v3', 1)[1]
        self.calls.append((method, path, json))
        body = None
        if method == 'GET' and path == '/roles':
            body = {'roles': [{'name': name, 'id': 'role-' + name}
                              for name in ('admin', 'member', 'reader',
                                           'service')]}
        elif method == 'POST' and path != '/registered_limits':
            kind = next(iter(json))
            body = {kind: {'id': '%s-%s' % (kind, json[kind].get(
                'name', json[kind].get('interface')))}}
        response = mock.Mock(content=b'{}' if body else b'')
        response.json.return_value = body
        return response


class KeystoneLimitsTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.identity = keystone.Keystone(
            '/s', 'http://127.0.0.1:8/compute/v2.1',
            'http://127.0.0.1:8/image')
        self.api = FakeKeystoneAPI()
        self.useFixture(fixtures.MockPatchObject(
            self.identity, 'session', return_value=self.api))
        self.identity._add_accounts()

    def test_registered_limits_of_the_compute_service(self):
        posted = [body for method, path, body in self.api.calls
                  if path == '/registered_limits']
        self.assertEqual(1, len(posted))
        limits = posted[0]['registered_limits']
        self.assertEqual({'service-nova'},
                         {limit['service_id'] for limit in limits})
        # oslo.limit reads them in the region of the compute endpoint.
        self.assertEqual({keystone.REGION},
                         {limit['region_id'] for limit in limits})
        by_resource = {limit['resource_name']: limit['default_limit']
                       for limit in limits}
        self.assertEqual(2, by_resource['class:CUSTOM_USB_1050_0407'])
        for resource in ('servers', 'class:VCPU', 'class:MEMORY_MB',
                         'class:DISK_GB'):
            self.assertGreaterEqual(by_resource[resource], 1000)
        # Nova's legacy defaults for the rest: nothing else changes.
        self.assertEqual(100, by_resource['server_key_pairs'])
        self.assertEqual(128, by_resource['server_metadata_items'])

    def test_nova_reads_limits_with_the_system_reader_role(self):
        self.assertIn(('PUT', '/system/users/user-nova/roles/role-reader',
                       None), self.api.calls)

    def test_project_ids_are_kept_for_the_grants(self):
        self.assertEqual('project-demo',
                         self.identity.project_ids[keystone.DEMO_PROJECT])

    def test_other_project_has_one_member(self):
        """Project other and its member, other-member: a project the demo
        devices are not granted to, for what another project's member sees.
        """
        self.assertEqual('project-other',
                         self.identity.project_ids[keystone.OTHER_PROJECT])
        self.assertEqual(
            [('PUT', '/projects/project-other/users/user-other-member/'
              'roles/role-member', None)],
            [call for call in self.api.calls
             if 'user-other-member' in call[1]])


class DemoGrantsTestCase(base.BaseTestCase):
    """The demo devices, granted to project demo through the API."""

    DEVICES = [
        {'id': 'hub', 'assignable': False, 'vendor_name': 'Genesys',
         'product_name': 'Hub', 'serial': None},
        {'id': 'key1', 'assignable': True, 'vendor_name': 'Yubico',
         'product_name': 'YubiKey', 'serial': '17381956'},
        {'id': 'dongle', 'assignable': True, 'vendor_name': 'SafeNet',
         'product_name': 'Sentinel HL', 'serial': None},
        {'id': 'keyboard', 'assignable': False, 'vendor_name': 'Logitech',
         'product_name': 'Keyboard', 'serial': None},
    ]

    def setUp(self):
        super().setUp()
        self.client = mock.Mock()
        self.client.list_host_devices.return_value = self.DEVICES
        self.useFixture(fixtures.MockPatch(
            'nova_usbclient.api.Client', return_value=self.client))
        self.sandbox = launcher.Sandbox(host='sandbox', demo_devices=True)
        self.sandbox.keystone = mock.Mock(
            project_ids={keystone.DEMO_PROJECT: 'demo-id'})

    def test_the_assignable_devices_are_granted(self):
        self.sandbox._grant_demo_devices()
        self.client.list_host_devices.assert_called_once_with('sandbox')
        self.assertEqual([mock.call('key1', 'demo-id'),
                          mock.call('dongle', 'demo-id')],
                         self.client.grant_device.call_args_list)
        facts = self.sandbox.facts
        self.assertEqual(('demo', 'demo-id'), facts.granted_project)
        self.assertEqual([('key1', 'Yubico YubiKey 17381956'),
                          ('dongle', 'SafeNet Sentinel HL')], facts.granted)
        text = '\n'.join(report.grants_and_quotas(facts))
        self.assertIn('project demo (demo-id)', text)
        self.assertIn('  key1  Yubico YubiKey 17381956', text)
        self.assertIn("other-member's project other has no device", text)
        self.assertIn('--resource-limit 1 class:CUSTOM_USB_1050_0407', text)

    def test_a_refused_grant_stops_the_start(self):
        self.client.grant_device.side_effect = usb_api.BadRequest('no')
        error = self.assertRaises(launcher.StartError,
                                  self.sandbox._grant_demo_devices)
        self.assertIn('could not be granted to project demo', str(error))


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

    def test_device_spec_grants_no_project(self):
        # Project demo has them from grants the sandbox makes at start.
        self.assertEqual([()], list({spec.projects for spec in
                                     devspec.parse_device_specs(
                                         demo.DEVICE_SPEC)}))


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
