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

"""nova-usb-manage db sync and db version, on a SQLite file."""

import io
import os

import fixtures
from oslo_config import fixture as config_fixture
from oslo_db.sqlalchemy import enginefacade
from oslotest import base
import sqlalchemy as sa

from nova_usb.cmd import manage
from nova_usb.db import api as db_api
from nova_usb.db import migration


class ManageDbTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        # main() parses the configuration into Nova's global object; the
        # fixture clears it afterwards.
        self.useFixture(config_fixture.Config(manage.CONF))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        # An empty directory: no nova.conf.d of this machine is read.
        self.conf_dir = os.path.join(self.tmp, 'nova.conf.d')
        os.mkdir(self.conf_dir)
        # A transaction factory not started yet, as in a new process.
        fresh = enginefacade.transaction_context()
        self.addCleanup(db_api.context_manager.patch_factory(fresh))
        self.addCleanup(self._dispose, fresh)
        self.stdout = self._capture('stdout')
        self.stderr = self._capture('stderr')

    def _capture(self, name):
        stream = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.' + name, stream))
        return stream

    @staticmethod
    def _dispose(context_manager):
        if context_manager.is_started:
            context_manager.writer.get_engine().dispose()

    def _config_file(self, text):
        path = os.path.join(self.tmp, 'nova.conf')
        with open(path, 'w') as f:
            f.write(text)
        return path

    def _main(self, *args, config=''):
        return manage.main(['--config-file', self._config_file(config),
                            '--config-dir', self.conf_dir] + list(args))

    def test_sync_then_version(self):
        path = os.path.join(self.tmp, 'nova_usb.sqlite')
        config = '[usb_database]\nconnection = sqlite:///%s\n' % path
        self.assertEqual(0, self._main('db', 'sync', config=config))
        self.assertEqual(0, self._main('db', 'version', config=config))
        self.assertEqual(migration.head(), self.stdout.getvalue().strip())
        self.assertEqual('', self.stderr.getvalue())
        # The schema is in the file the configuration names.
        engine = sa.create_engine('sqlite:///' + path)
        self.addCleanup(engine.dispose)
        self.assertIn('usb_device_grants',
                      sa.inspect(engine).get_table_names())

    def test_version_of_a_database_never_synced(self):
        config = '[usb_database]\nconnection = sqlite:///%s\n' % (
            os.path.join(self.tmp, 'empty.sqlite'))
        self.assertEqual(0, self._main('db', 'version', config=config))
        self.assertEqual('None', self.stdout.getvalue().strip())

    def test_config_file_after_the_action(self):
        path = os.path.join(self.tmp, 'nova_usb.sqlite')
        config_file = self._config_file(
            '[usb_database]\nconnection = sqlite:///%s\n' % path)
        self.assertEqual(0, manage.main(
            ['db', 'sync', '--version', migration.head(),
             '--config-file', config_file, '--config-dir', self.conf_dir]))
        self.assertTrue(os.path.exists(path))

    def _assert_one_error_line(self, starts):
        stderr = self.stderr.getvalue()
        self.assertEqual(1, len(stderr.splitlines()), stderr)
        self.assertTrue(stderr.startswith(starts), stderr)
        self.assertNotIn('Traceback', stderr)

    def test_no_connection_configured(self):
        self.assertEqual(1, self._main('db', 'sync'))
        self._assert_one_error_line(
            'ERROR: [usb_database] connection is not set')
        self.assertFalse(db_api.context_manager.is_started)

    def test_unreachable_database(self):
        # Port 1 of the loopback: refused at once; no retries.
        config = ('[usb_database]\n'
                  'connection = mysql+pymysql://u:p@127.0.0.1:1/nova_usb\n'
                  'max_retries = 0\n')
        self.assertEqual(1, self._main('db', 'version', config=config))
        self._assert_one_error_line('ERROR: nova-usb database: ')
        self.assertIn("Can't connect", self.stderr.getvalue())

    def test_unknown_revision(self):
        config = '[usb_database]\nconnection = sqlite:///%s\n' % (
            os.path.join(self.tmp, 'nova_usb.sqlite'))
        self.assertEqual(1, self._main('db', 'sync', '--version', 'nope',
                                       config=config))
        self._assert_one_error_line('ERROR: nova-usb database: ')
        self.assertIn("'nope'", self.stderr.getvalue())

    def test_action_is_required(self):
        self.assertRaises(SystemExit, manage.main, ['db'])
        self.assertIn('required: ACTION', self.stderr.getvalue())
