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

"""keystone as an operator deploys it, and the accounts of a cloud.

One module so that anything else needing a real keystone (the cloud of
``tox -e cloud``, a sandbox) deploys it the same way: its configuration
from ``etc/cloud/keystone.conf``, ``keystone-manage db_sync``,
``fernet_setup``, ``credential_setup`` and ``bootstrap`` (admin user,
project and the admin, member, reader roles, the identity endpoint), then
keystone under uWSGI, then service users, projects and users with real
roles, and registered limits (Nova's unified limits) through keystone's own
API.
"""

import os
import secrets

from tests.cloud import processes
from tests.cloud import snippets

REGION = 'RegionOne'


def password():
    """A password for one run: nothing in the cloud is a known default."""
    # Hex: safe in URLs, SQL and command lines (a leading "-" would read
    # as an option).
    return secrets.token_hex(16)


class Keystone(object):
    """keystone on 127.0.0.1:``port`` with its database on MariaDB.

    :param bin_dir: where keystone-manage and uwsgi are (the virtualenv)
    :param state_dir: keystone's fernet and credential key repositories
    :param log_dir: keystone.log and the one-off commands' output
    :param db_password: the MariaDB account "keystone" (database keystone)
    """

    def __init__(self, bin_dir, state_dir, log_dir, port, db_password):
        self.bin_dir = bin_dir
        self.state_dir = state_dir
        self.log_dir = log_dir
        self.port = port
        self.db_password = db_password
        self.admin_password = password()
        self.conf = os.path.join(state_dir, 'keystone', 'keystone.conf')
        self.process = None
        self._admin = None

    @property
    def url(self):
        return 'http://127.0.0.1:%d/v3' % self.port

    def _manage(self, *args, env=None):
        processes.run(
            [os.path.join(self.bin_dir, 'keystone-manage'),
             '--config-file', self.conf] + list(args),
            os.path.join(self.log_dir, 'keystone-manage.log'), env=env)

    def deploy(self):
        """Configure, create the schema and keys, bootstrap; then serve."""
        os.makedirs(os.path.dirname(self.conf), exist_ok=True)
        snippets.write('keystone.conf', self.conf, {
            'log_dir': self.log_dir, 'state_dir': self.state_dir,
            'keystone_db_password': self.db_password})
        self._manage('db_sync')
        self._manage('fernet_setup', '--keystone-user', 'root',
                     '--keystone-group', 'root')
        self._manage('credential_setup', '--keystone-user', 'root',
                     '--keystone-group', 'root')
        # The password in the environment, not on the command line (which
        # every user's ps shows, and run() logs).
        self._manage('bootstrap',
                     '--bootstrap-admin-url', self.url,
                     '--bootstrap-internal-url', self.url,
                     '--bootstrap-public-url', self.url,
                     '--bootstrap-region-id', REGION,
                     env={'OS_BOOTSTRAP_PASSWORD': self.admin_password})
        self.start()

    def start(self):
        self.process = processes.wsgi(
            'keystone', 'keystone.wsgi.api:application', self.port,
            self.bin_dir, self.log_dir,
            env={'OS_KEYSTONE_CONFIG_FILES': self.conf})
        self.process.start()
        processes.wait_until(lambda: processes.http_answers(self.url), 120,
                             'keystone answers', self.process)

    def admin(self):
        """An openstacksdk connection as keystone's bootstrap admin."""
        if self._admin is None:
            import openstack
            self._admin = openstack.connect(
                auth_url=self.url, username='admin',
                password=self.admin_password, project_name='admin',
                user_domain_name='Default', project_domain_name='Default',
                region_name=REGION, identity_api_version='3')
        return self._admin

    def credentials(self, username, password, project):
        """The ``OS_*`` variables that log ``username`` in to ``project``."""
        return {
            'OS_AUTH_URL': self.url,
            'OS_IDENTITY_API_VERSION': '3',
            'OS_USERNAME': username,
            'OS_PASSWORD': password,
            'OS_PROJECT_NAME': project,
            'OS_USER_DOMAIN_NAME': 'Default',
            'OS_PROJECT_DOMAIN_NAME': 'Default',
            'OS_REGION_NAME': REGION,
        }

    def admin_credentials(self):
        return self.credentials('admin', self.admin_password, 'admin')

    def project(self, name):
        identity = self.admin().identity
        return (identity.find_project(name, domain_id='default')
                or identity.create_project(name=name, domain_id='default'))

    def role(self, name):
        identity = self.admin().identity
        return identity.find_role(name) or identity.create_role(name=name)

    def user(self, name, project, roles):
        """A user of ``project`` with ``roles``; returns its password."""
        identity = self.admin().identity
        secret = password()
        user = identity.create_user(
            name=name, password=secret, domain_id='default',
            default_project_id=self.project(project).id)
        project_id = self.project(project).id
        for role in roles:
            identity.assign_project_role_to_user(
                project_id, user, self.role(role))
        return secret

    def service(self, name, service_type, url):
        """A service user (admin and service roles in project "service")
        and the service's endpoints in the catalog; returns its password.
        """
        identity = self.admin().identity
        secret = self.user(name, 'service', ['admin', 'service'])
        service = identity.create_service(name=name, type=service_type)
        for interface in ('public', 'internal', 'admin'):
            identity.create_endpoint(service_id=service.id,
                                     interface=interface, url=url,
                                     region_id=REGION)
        self._admin = None  # the next connection reads the new catalog
        return secret

    def system_reader(self, name):
        """The reader role on the system for user ``name``: what Nova's
        ``[oslo_limit]`` account needs to read every project's limits.
        """
        identity = self.admin().identity
        identity.assign_system_role_to_user(
            identity.find_user(name, domain_id='default'),
            self.role('reader'), 'all')

    def registered_limits(self, service_type, limits):
        """Every project's default limits (``{resource: limit}``) for the
        service of ``service_type``, in the region.
        """
        identity = self.admin().identity
        service = next(identity.services(type=service_type))
        # One POST with the list, as keystone's API takes them (the SDK's
        # resource sends one object).
        answer = identity.post('/registered_limits', json={
            'registered_limits': [
                {'service_id': service.id, 'region_id': REGION,
                 'resource_name': resource, 'default_limit': limit}
                for resource, limit in sorted(limits.items())]})
        if answer.status_code != 201:
            raise RuntimeError('keystone refused the registered limits: '
                               'HTTP %d %s' % (answer.status_code,
                                               answer.text))
