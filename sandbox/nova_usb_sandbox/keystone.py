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

"""The sandbox's identity service: keystone itself.

keystone (from PyPI) is deployed as its install guide says, on its own
SQLite database in the state directory: ``keystone-manage db_sync``,
``fernet_setup``, ``credential_setup`` and ``bootstrap`` (the admin user
and project, the admin, member and reader roles, the identity endpoint).
It then runs in a process of its own (keystone and Nova each configure
the process-wide oslo.config object; they cannot share a process), as a
WSGI application on 127.0.0.1. Through keystone's own API the sandbox
then adds the service user nova-api's auth_token middleware validates
tokens with, the compute and image endpoints of the catalog, the accounts
it prints: ``admin``, ``demo-member`` and ``demo-reader`` of project
``demo``, and ``other-member`` of project ``other`` (granted no device: what
a member of another project sees), each with a password made for this run,
and Nova's quotas as
unified limits: the compute service's registered limits
(``REGISTERED_LIMITS``), which nova-api reads as the ``nova`` user with
the reader role on the system, as Nova's unified limits guide sets it up.

All of it runs in a thread while Nova starts (``start()``); ``wait()``
returns once keystone answers and the accounts exist.

    python -m nova_usb_sandbox.keystone KEYSTONE_CONF PORT

is the keystone process: keystone's WSGI application under the standard
library's threaded WSGI server (as nova-api is in the sandbox).
"""

import grp
import os
import pwd
import secrets
import socket
import subprocess
import sys
import threading
import time

from nova_usb_sandbox import web

REGION = 'RegionOne'
# A bound, not an estimate: keystone is ready in seconds here, but takes
# minutes under QEMU TCG (the nested test host), where every keystone-manage
# and every password hash is slow.
READY_TIMEOUT = 600
STOP_TIMEOUT = 10
ADMIN = 'admin'
DEMO_PROJECT = 'demo'
# A second project, which the demo devices are not granted to: what a
# member of another project sees of project demo (nothing).
OTHER_PROJECT = 'other'
SERVICE_PROJECT = 'service'
NOVA_USER = 'nova'
# user: (project, roles)
ACCOUNTS = {
    'demo-member': (DEMO_PROJECT, ('member',)),
    'demo-reader': (DEMO_PROJECT, ('reader',)),
    'other-member': (OTHER_PROJECT, ('member',)),
}
# Every project's default quotas (keystone registered limits of the
# compute service), resource: limit. Servers, CPUs, memory and disk: more
# than one sandbox host holds, so that no one meets them. Key pairs,
# metadata, server groups and injected files: the defaults of Nova's legacy
# quotas (without a registered limit, Nova's quota API and the dashboard
# show them as 0). The YubiKeys of the demo recording: two a project, the
# quota an admin changes per project with "openstack limit create".
USB_KEY_RESOURCE = 'class:CUSTOM_USB_1050_0407'
REGISTERED_LIMITS = {
    'servers': 1000,
    'class:VCPU': 1000,
    'class:MEMORY_MB': 1024 * 1024,
    'class:DISK_GB': 10000,
    'server_metadata_items': 128,
    'server_injected_files': 5,
    'server_injected_file_content_bytes': 10240,
    'server_injected_file_path_bytes': 255,
    'server_key_pairs': 100,
    'server_groups': 10,
    'server_group_members': 10,
    USB_KEY_RESOURCE: 2,
}

KEYSTONE_CONF = """\
[DEFAULT]
log_file = %(log_file)s
debug = %(debug)s

[database]
connection = sqlite:///%(state_dir)s/keystone.sqlite

[token]
provider = fernet

[identity]
# bcrypt's lowest cost: every login hashes the password, and the sandbox's
# passwords are random and live one run (keystone's default, 12, costs a
# second a login on a slow machine).
password_hash_rounds = 4

[fernet_tokens]
key_repository = %(state_dir)s/keystone-fernet-keys

[fernet_receipts]
key_repository = %(state_dir)s/keystone-fernet-keys

[credential]
key_repository = %(state_dir)s/keystone-credential-keys

[cache]
# In this process's memory, as oslo.cache advises for a single server:
# nova-api asks keystone a dozen questions at each quota check (Nova's
# unified limits, through oslo.limit), each with nova's token to validate.
enabled = true
backend = dogpile.cache.memory
"""


class Unavailable(Exception):
    """keystone could not be deployed; the message says where to look."""


def password():
    """A password made for one run: nothing in the sandbox is a default."""
    return secrets.token_urlsafe(18)


def free_port():
    """A free TCP port on 127.0.0.1 (keystone's URL is in its catalog
    before keystone runs).
    """
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Keystone(object):
    """keystone for one sandbox.

    :param state_dir: where its database, keys, configuration and logs go
    :param compute_url: nova-api's endpoint, for the catalog
    :param image_url: the image service's endpoint, for the catalog
    :param debug: keystone logs at DEBUG
    """

    def __init__(self, state_dir, compute_url, image_url, debug=False):
        self.state_dir = state_dir
        self.compute_url = compute_url
        self.image_url = image_url
        self.debug = debug
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d/v3' % self.port
        self.passwords = {ADMIN: password(), NOVA_USER: password()}
        for name in ACCOUNTS:
            self.passwords[name] = password()
        self.conf = os.path.join(state_dir, 'keystone.conf')
        self.log_file = os.path.join(state_dir, 'keystone.log')
        self.process = None
        self.project_ids = {}           # name: id, once deployed
        self._thread = None
        self._error = None
        self._stopping = False

    # The whole deployment, in a thread

    def start(self):
        self._thread = threading.Thread(target=self._deploy,
                                        name='sandbox-keystone', daemon=True)
        self._thread.start()

    def wait(self, timeout=READY_TIMEOUT):
        """Until keystone answers with the accounts; raises Unavailable."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise Unavailable('keystone was not ready within %d s (see %s)'
                              % (timeout, self.log_file))
        if self._error is not None:
            raise Unavailable(self._error)

    def _deploy(self):
        try:
            self._configure()
            self._add_accounts()
        except Exception as error:  # reported by wait()
            self._error = 'keystone: %s (see %s)' % (error, self.log_file)

    def _configure(self):
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as out:
            out.write(KEYSTONE_CONF % {
                'log_file': self.log_file, 'debug': self.debug,
                'state_dir': self.state_dir})
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        # The key repositories and the schema are independent: made at
        # once, each keystone-manage being mostly Python start-up. The
        # server starts with bootstrap, and answers once both are done.
        self._manage([
            ('db_sync',),
            ('fernet_setup', '--keystone-user', user,
             '--keystone-group', group),
            ('credential_setup', '--keystone-user', user,
             '--keystone-group', group)])
        self._serve()
        # The admin's password in the environment, which only this user
        # can read: a command line is in every user's ps.
        self._manage([
            ('bootstrap',
             '--bootstrap-admin-url', self.url,
             '--bootstrap-internal-url', self.url,
             '--bootstrap-public-url', self.url,
             '--bootstrap-region-id', REGION)],
            env={'OS_BOOTSTRAP_PASSWORD': self.passwords[ADMIN]})
        self._wait_answers()

    def _manage(self, commands, env=None):
        """Run keystone-manage commands side by side; all must succeed.

        ``env``: variables added to their environment.
        """
        manage = os.path.join(os.path.dirname(sys.executable),
                              'keystone-manage')
        running = []
        with open(self.log_file, 'a') as log:
            for args in commands:
                running.append((args[0], subprocess.Popen(
                    [manage, '--config-file', self.conf] + list(args),
                    stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT,
                    env=dict(os.environ, **(env or {})))))
        for name, process in running:
            if process.wait() != 0:
                raise RuntimeError('keystone-manage %s exited with %d'
                                   % (name, process.returncode))

    def _serve(self):
        env = dict(os.environ, OS_KEYSTONE_CONFIG_FILES=self.conf)
        with open(self.log_file, 'a') as log:
            self.process = subprocess.Popen(
                [sys.executable, '-m', __name__, self.conf, str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env)

    def _wait_answers(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError('the keystone process exited with %d'
                                   % self.process.returncode)
            if time.monotonic() > deadline or self._stopping:
                raise RuntimeError('keystone did not answer on %s'
                                   % self.url)
            time.sleep(0.2)

    def _answers(self):
        import requests
        try:
            return requests.get(self.url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    # keystone's API, as the cloud's admin

    def session(self, user=ADMIN, project=ADMIN):
        from keystoneauth1.identity import v3
        from keystoneauth1 import session
        auth = v3.Password(
            auth_url=self.url, username=user, password=self.passwords[user],
            project_name=project, user_domain_name='Default',
            project_domain_name='Default')
        return session.Session(auth=auth)

    def _add_accounts(self):
        admin = self.session()

        def call(method, path, body=None):
            response = admin.request(self.url + path, method, json=body,
                                     raise_exc=True)
            return response.json() if response.content else None

        def create(kind, body):
            plural = kind + 's' if kind != 'policy' else 'policies'
            return call('POST', '/' + plural, {kind: body})[kind]['id']

        roles = {role['name']: role['id']
                 for role in call('GET', '/roles')['roles']}
        if 'service' not in roles:  # bootstrap makes it since keystone 26
            roles['service'] = create('role', {'name': 'service'})
        projects = {name: create('project', {'name': name,
                                             'domain_id': 'default'})
                    for name in (SERVICE_PROJECT, DEMO_PROJECT,
                                 OTHER_PROJECT)}
        members = dict(ACCOUNTS)
        members[NOVA_USER] = (SERVICE_PROJECT, ('admin', 'service'))
        user_ids = {}
        for name, (project, user_roles) in members.items():
            user_ids[name] = create('user', {
                'name': name, 'password': self.passwords[name],
                'domain_id': 'default',
                'default_project_id': projects[project]})
            for role in user_roles:
                call('PUT', '/projects/%s/users/%s/roles/%s' % (
                    projects[project], user_ids[name], roles[role]))
        # oslo.limit reads limits with a system-scoped token of nova's.
        call('PUT', '/system/users/%s/roles/%s' % (
            user_ids[NOVA_USER], roles['reader']))
        service_ids = {}
        for service_type, name, url in (
                ('compute', 'nova', self.compute_url),
                ('image', 'glance', self.image_url)):
            service_ids[service_type] = create('service', {
                'type': service_type, 'name': name})
            for interface in ('public', 'internal', 'admin'):
                create('endpoint', {'service_id': service_ids[service_type],
                                    'interface': interface, 'url': url,
                                    'region_id': REGION})
        call('POST', '/registered_limits', {'registered_limits': [
            {'service_id': service_ids['compute'], 'region_id': REGION,
             'resource_name': resource, 'default_limit': limit}
            for resource, limit in REGISTERED_LIMITS.items()]})
        self.project_ids = projects

    # Stop

    def stop(self):
        """Stop the keystone process (by its pid); never raises."""
        self._stopping = True
        if self._thread is not None:
            # A keystone-manage still running ends on its own in seconds.
            self._thread.join(3 * STOP_TIMEOUT)
        web.stop_child(self.process, STOP_TIMEOUT)


def serve(conf, port):
    """keystone's WSGI application on 127.0.0.1:port until SIGTERM."""
    os.environ['OS_KEYSTONE_CONFIG_FILES'] = conf
    from keystone.server import wsgi as keystone_wsgi

    application = keystone_wsgi.initialize_public_application()
    web.serve_in_child(web.make_server(port, application))


if __name__ == '__main__':
    conf, port = sys.argv[1], int(sys.argv[2])
    # keystone parses the command line as its own options.
    del sys.argv[1:]
    serve(conf, port)
