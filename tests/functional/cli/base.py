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

"""The real ``nova`` and ``openstack`` shells against the real nova-usb API.

Each command runs in-process through the shell's own ``main`` (argument
parsing, authentication, output formatting, exit code), with stdout and
stderr captured, against the nova-api of Nova's functional harness, which
wsgi-intercept serves on a fake host. Users authenticate as they do in a
cloud: an openrc's ``OS_*`` variables, password authentication against
keystone, and the compute endpoint from the token's service catalog.

Keystone is the one service that cannot be reached here, so a small WSGI
app stands in for it behind wsgi-intercept too: it answers version
discovery and ``POST /v3/auth/tokens`` with tokens built by keystoneauth's
own fixture. nova-api then knows the token's user, project and roles as
keystonemiddleware would tell it (Nova's harness stubs the middleware and
reads X-Auth-User, X-Auth-Project-Id and X-Roles; the tokens are mapped
to those).

Users are the REST API tests' roles (tests/functional/api/base.py): admin,
member and reader of the servers' project, stranger of another project.

With NOVA_USB_CLI_TRANSCRIPT=FILE in the environment, every command and its
output is appended to FILE, as a terminal would show them.
"""

import collections
import importlib.metadata
import io
import logging
import os
import shlex
from unittest import mock
import warnings

import fixtures
from keystoneauth1 import fixture as ks_fixture
from nova.api import auth as nova_auth
from novaclient import shell as nova_shell
from openstackclient.common import clientmanager
from openstackclient import shell as osc_shell
from osc_lib import clientmanager as osc_lib_clientmanager
from osc_lib import logs as osc_logs
from oslo_serialization import jsonutils
import webob
import webob.dec
from wsgi_intercept import interceptor

from tests.functional.api import base

KEYSTONE = 'http://keystone.usb.test:80'
PASSWORD = 'secret'

Result = collections.namedtuple('Result', 'code out err')


class Keystone(object):
    """Just enough of keystone's v3 API for keystoneauth's password flow."""

    def __init__(self, users, compute_url):
        # name -> (project id, roles)
        self.users = users
        self.compute_url = compute_url

    @staticmethod
    def token_id(name):
        return 'token-%s' % name

    @webob.dec.wsgify
    def __call__(self, req):
        path = req.path_info.rstrip('/')
        if req.method == 'GET' and path in ('', '/v3'):
            discovery = ks_fixture.V3Discovery(KEYSTONE + '/v3')
            body = ({'version': discovery} if path else
                    {'versions': {'values': [discovery]}})
            return webob.Response(json_body=body, status=200 if path
                                  else 300)
        if req.method == 'POST' and path == '/v3/auth/tokens':
            return self._issue(req.json)
        return webob.exc.HTTPNotFound()

    def _issue(self, body):
        auth = body['auth']
        user = auth['identity']['password']['user']
        if user.get('name') not in self.users or (
                user.get('password') != PASSWORD):
            return webob.exc.HTTPUnauthorized()
        project, roles = self.users[user['name']]
        scope = auth.get('scope', {}).get('project', {})
        if scope.get('id', project) != project:
            return webob.exc.HTTPUnauthorized()
        token = ks_fixture.V3Token(
            user_id=user['name'], user_name=user['name'],
            user_domain_id='default', project_id=project,
            project_name=project, project_domain_id='default')
        for role in roles:
            token.add_role(name=role)
        token.add_service('compute', name='nova').add_standard_endpoints(
            public=self.compute_url, internal=self.compute_url,
            admin=self.compute_url, region='RegionOne')
        token.add_service('identity', name='keystone'
                          ).add_standard_endpoints(public=KEYSTONE + '/v3')
        response = webob.Response(json_body=token, status=201)
        response.headers['X-Subject-Token'] = self.token_id(user['name'])
        return response


def reset_osc_clients():
    """Forget the clients OpenStackClient keeps on its ClientManager class.

    A real ``openstack`` builds them once per process; here each command
    runs in the same process, maybe as another user.
    """
    for manager in (clientmanager.ClientManager,
                    osc_lib_clientmanager.ClientManager):
        for value in vars(manager).values():
            if isinstance(value, osc_lib_clientmanager.ClientCache):
                value._handle = None


class ClientSideOnly(logging.Filter):
    """Keep the cloud's own logs off the console of ``openstack``.

    OpenStackClient logs warnings and errors to stderr through a handler on
    the root logger, where the harness's services, in the same process,
    log too; in a cloud they log elsewhere.
    """

    SERVICES = ('nova.', 'nova_usb.', 'oslo_', 'placement.')

    def filter(self, record):
        name = record.name + '.'
        return (name.startswith('nova_usbclient.')
                or not name.startswith(self.SERVICES))


def _configure_osc_logging(original):
    def configure(self, options):
        original(self, options)
        self.console_logger.addFilter(ClientSideOnly())
    return configure


class CliTestBase(base.UsbApiTestBase):

    def setUp(self):
        if not importlib.metadata.entry_points(group='openstack.usb.v1'):
            self.fail("nova-usb's CLI entry points are not installed: run "
                      "'pip install -e client/' (python-nova-usbclient; or "
                      "'python setup.py egg_info' in client/ when an older "
                      "egg-info there hides them)")
        super().setUp()
        self.users = {
            'admin': (base.ADMIN_PROJECT, ['reader', 'member', 'admin']),
            'member': (self.api.project_id, ['reader', 'member']),
            'reader': (self.api.project_id, ['reader']),
            'stranger': (base.OTHER_PROJECT, ['reader', 'member']),
        }
        keystone = Keystone(self.users, self.api_fixture.base_url)
        intercept = interceptor.RequestsInterceptor(lambda: keystone,
                                                    url=KEYSTONE + '/')
        intercept.install_intercept()
        self.addCleanup(intercept.uninstall_intercept)
        self._map_tokens()
        self.transcript = os.environ.get('NOVA_USB_CLI_TRANSCRIPT')
        # Only the openrc of each command counts, not this machine's.
        for name in list(os.environ):
            if name.startswith(('OS_', 'NOVA_', 'NOVACLIENT_')):
                self.useFixture(fixtures.EnvironmentVariable(name))
        self.useFixture(fixtures.EnvironmentVariable(
            'HOME', self.useFixture(fixtures.TempDir()).path))
        self.addCleanup(reset_osc_clients)

    def _map_tokens(self):
        """nova-api's context from the token, as keystonemiddleware would
        give it; requests of the harness's own clients pass through. Its
        request id is the one nova-api answers with, as in
        RequestContext.from_environ (Nova's harness makes a new one).
        """
        harness_context = nova_auth.NovaKeystoneContext._create_context
        tokens = {Keystone.token_id(name): (name,) + values
                  for name, values in self.users.items()}

        def create_context(env, **kwargs):
            known = tokens.get(env.get('HTTP_X_AUTH_TOKEN'))
            if known is not None:
                name, project, roles = known
                env.update(HTTP_X_AUTH_USER=name,
                           HTTP_X_AUTH_PROJECT_ID=project,
                           HTTP_X_ROLES=','.join(roles))
            kwargs.setdefault('request_id', env.get('openstack.request_id'))
            return harness_context(env, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            'nova.api.auth.NovaKeystoneContext._create_context',
            create_context))

    def openrc(self, user):
        """The environment a user's openrc file sets."""
        project, _ = self.users[user]
        return {'OS_AUTH_URL': KEYSTONE + '/v3', 'OS_USERNAME': user,
                'OS_PASSWORD': PASSWORD, 'OS_PROJECT_ID': project,
                'OS_USER_DOMAIN_ID': 'default',
                'OS_PROJECT_DOMAIN_ID': 'default',
                'OS_IDENTITY_API_VERSION': '3',
                'OS_REGION_NAME': 'RegionOne'}

    def _run(self, main, program, argv, user, expect):
        out, err = io.StringIO(), io.StringIO()
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        reset_osc_clients()
        configure = _configure_osc_logging(osc_logs.LogConfigurator.__init__)
        try:
            with mock.patch.dict(os.environ, self.openrc(user)), \
                    mock.patch.object(osc_shell.OpenStackShell, 'NAME',
                                      'openstack'), \
                    mock.patch('sys.stdout', out), \
                    mock.patch('sys.stderr', err), \
                    mock.patch.object(osc_logs.LogConfigurator, '__init__',
                                      configure), \
                    warnings.catch_warnings():
                try:
                    code = main(list(argv)) or 0
                except SystemExit as e:
                    code = e.code
        finally:
            # The shells set up logging for a process of their own.
            root.handlers[:] = handlers
            root.setLevel(level)
        result = Result(code, out.getvalue(), err.getvalue())
        self._record(program, argv, user, result)
        if expect is not None:
            self.assertEqual(expect, result.code, result)
        return result

    def nova(self, *argv, user='member', expect=0):
        """``nova ARGV`` as ``user``; ``expect`` is its exit code."""
        return self._run(nova_shell.main, 'nova', argv, user, expect)

    def openstack(self, *argv, user='member', expect=0):
        """``openstack ARGV`` as ``user``; ``expect`` is its exit code."""
        return self._run(osc_shell.main, 'openstack', argv, user, expect)

    def openstack_json(self, *argv, user='member'):
        return jsonutils.loads(
            self.openstack(*(argv + ('-f', 'json')), user=user).out)

    def _record(self, program, argv, user, result):
        if not self.transcript:
            return
        with open(self.transcript, 'a') as transcript:
            transcript.write('(%s) $ %s %s\n%s%s' % (
                user, program, shlex.join(argv), result.err, result.out))
            if result.code:
                transcript.write('(exit %s)\n' % result.code)
            transcript.write('\n')

    @staticmethod
    def table(text):
        """The rows of a prettytable (``nova``, ``openstack -f table``) as
        lists of stripped cells, headings first.
        """
        return [[cell.strip() for cell in line.strip('|').split('|')]
                for line in text.splitlines() if line.startswith('|')]
