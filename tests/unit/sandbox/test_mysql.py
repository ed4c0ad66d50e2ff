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


"""nova-usb-sandbox --database: names, configuration, creation and removal.

The creation and removal tests need the MariaDB of tools/mariadb.sh
(openstack_citest on localhost); they are skipped without one, unless
NOVA_USB_REQUIRE_MYSQL is set: then they fail.
"""

import os
import stat
import uuid

import fixtures
from oslotest import base

from nova_usb_sandbox import config
from nova_usb_sandbox import keystone
from nova_usb_sandbox import launcher
from nova_usb_sandbox import mysql
from nova_usb_sandbox import report

CITEST = 'mysql+pymysql://openstack_citest:openstack_citest@localhost/'


class ServerTestCase(base.BaseTestCase):

    def test_names_and_connections(self):
        server = mysql.Server('mysql+pymysql://u:p%40ss@127.0.0.1:3307/load')
        self.assertEqual(['load_api', 'load_cell0', 'load_cell1',
                          'load_placement', 'load_usb'], server.databases())
        self.assertEqual(
            'mysql+pymysql://u:p%40ss@127.0.0.1:3307/load_cell1'
            '?charset=utf8', server.connection('nova_cell1'))
        self.assertEqual('mysql+pymysql://u:***@127.0.0.1:3307',
                         server.shown())

    def test_default_name_and_own_charset(self):
        server = mysql.Server('mysql+pymysql://u:p@localhost?charset=utf8mb4')
        self.assertEqual(
            'mysql+pymysql://u:p@localhost/nova_usb_sandbox_api'
            '?charset=utf8mb4', server.connection('nova_api'))

    def test_refused_urls(self):
        for url, reason in (
                ('sqlite:///x.db', 'is not a MySQL URL'),
                ('nonsense', 'is not a database URL'),
                ('mysql+pymysql://u:p@localhost/a-b', 'cannot name')):
            error = self.assertRaises(mysql.Unusable, mysql.Server, url)
            self.assertIn(reason, str(error))

    def test_sandbox_refuses_before_starting_anything(self):
        sandbox = launcher.Sandbox(database='sqlite:///x.db')
        self.useFixture(fixtures.MockPatch(
            'nova_usb_sandbox.launcher._check_requirements'))
        error = self.assertRaises(launcher.StartError, sandbox.start)
        self.assertIn('is not a MySQL URL', str(error))
        self.assertIsNone(sandbox.state_dir)
        self.assertIsNone(sandbox.web)


class SettingsTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.state = self.useFixture(fixtures.TempDir()).path

    def read(self, path):
        with open(path) as f:
            return f.read()

    def keystone(self):
        return keystone.Keystone(self.state, 'http://127.0.0.1:8/compute',
                                 'http://127.0.0.1:8/image')

    def test_mysql_databases_in_the_configuration(self):
        server = mysql.Server('mysql+pymysql://u:secret@localhost/load')
        settings = config.Settings(self.state, 'sandbox',
                                   'http://127.0.0.1:8', mysql=server,
                                   keystone=self.keystone())
        settings.write()
        nova = config.paste_sections(self.read(settings.nova_conf))
        self.assertEqual(server.connection('nova_cell1'),
                         nova['database']['connection'])
        self.assertEqual(server.connection('nova_api'),
                         nova['api_database']['connection'])
        self.assertEqual(server.connection('nova_usb'),
                         nova['usb_database']['connection'])
        placement = config.paste_sections(self.read(
            settings.placement_conf))
        self.assertEqual(server.connection('placement'),
                         placement['placement_database']['connection'])
        # They hold the server's password.
        for path in (settings.nova_conf, settings.placement_conf):
            self.assertEqual(0o600, stat.S_IMODE(os.stat(path).st_mode))

    def test_sqlite_by_default(self):
        settings = config.Settings(self.state, 'sandbox',
                                   'http://127.0.0.1:8',
                                   keystone=self.keystone())
        settings.write()
        nova = config.paste_sections(self.read(settings.nova_conf))
        self.assertEqual(settings.sqlite('nova_cell1'),
                         nova['database']['connection'])
        self.assertEqual('sqlite:///%s/nova_api.sqlite' % self.state,
                         nova['api_database']['connection'])
        self.assertEqual('sqlite:///%s/nova_usb.sqlite' % self.state,
                         nova['usb_database']['connection'])

    def test_report_says_where_the_databases_are(self):
        facts = launcher.Facts()
        rows = {row[0]: row[2] for row in report.parts(facts)}
        self.assertEqual('SQLite files in the state directory',
                         rows['databases'])
        facts.databases = 'MySQL server mysql+pymysql://u:***@localhost'
        rows = {row[0]: row[2] for row in report.parts(facts)}
        self.assertEqual(facts.databases, rows['databases'])


class CreateDropTestCase(base.BaseTestCase):
    """On the MariaDB of tools/mariadb.sh."""

    def setUp(self):
        super().setUp()
        self.name = 'nova_usb_unit_%s' % uuid.uuid4().hex[:8]
        self.server = mysql.Server(CITEST + self.name)
        try:
            self.server._connect().close()
        except mysql.Unusable as error:
            if os.environ.get('NOVA_USB_REQUIRE_MYSQL'):
                self.fail(str(error))
            self.skipTest(str(error))
        self.addCleanup(self.drop_all)

    def drop_all(self):
        self.server.created = self.server.databases()
        self.server.drop()

    def existing(self):
        import sqlalchemy
        with self.server._connect() as conn:
            return sorted(conn.execute(sqlalchemy.text(
                "SELECT schema_name FROM information_schema.schemata "
                "WHERE schema_name LIKE '%s\\_%%'" % self.name)).scalars())

    def test_create_then_drop(self):
        self.server.create()
        self.assertEqual(sorted(self.server.databases()), self.existing())
        self.server.drop()
        self.assertEqual([], self.existing())
        self.assertEqual([], self.server.created)

    def test_never_takes_over_existing_databases(self):
        self.server.create()
        other = mysql.Server(CITEST + self.name)
        error = self.assertRaises(mysql.Unusable, other.create)
        self.assertIn('%s_api, %s_cell0' % (self.name, self.name),
                      str(error))
        self.assertIn('already exist', str(error))
        self.assertEqual([], other.created)
        other.drop()
        self.assertEqual(sorted(self.server.databases()), self.existing())

    def test_unreachable_server(self):
        server = mysql.Server('mysql+pymysql://openstack_citest:wrong@'
                              'localhost/' + self.name)
        error = self.assertRaises(mysql.Unusable, server.create)
        self.assertIn('cannot connect to mysql+pymysql://openstack_citest:'
                      '***@localhost', str(error))
        self.assertNotIn(':wrong@', str(error))
