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

"""The grants of nova_usb.db.api, on SQLite and on MySQL.

The schema comes from the migrations, as nova-usb-manage db sync makes it.
MySQL (MariaDB here) enforces the column lengths and is where concurrent
requests meet the unique constraint; its tests follow OpenStack's
opportunistic convention (see test_requests_db): they skip when no server
is reachable, except when NOVA_USB_REQUIRE_MYSQL is set: then they fail.
"""

import datetime
import os
from unittest import mock

import fixtures
from nova import context as nova_context
from oslo_config import fixture as config_fixture
from oslo_db import exception as db_exception
from oslo_db.sqlalchemy import enginefacade
from oslo_db.sqlalchemy import test_fixtures
from oslo_utils import timeutils
from oslotest import base
import sqlalchemy as sa

from nova_usb.db import api as db_api
from nova_usb.db import migration
from nova_usb.db import models
from nova_usb import exception

DEVICE = '7c377cde-23c8-54ef-b284-a94c286b6dda'
OTHER_DEVICE = 'b1d2b537-f11a-59d5-b0bb-abd86788dbac'
THIRD_DEVICE = '63443d7c-df97-5f32-9d75-1527a62f3d22'
PROJECT = '3f5b2c1d9a7e4b6c8d0e1f2a3b4c5d6e'
OTHER_PROJECT = '0a1b2c3d4e5f60718293a4b5c6d7e8f9'


class _MigratedSchema(test_fixtures.GeneratesSchemaFromMigrations):

    def get_enginefacade(self):
        return db_api.context_manager

    def generate_schema_migrations(self, engine):
        migration.db_sync(engine=engine)


class SQLiteMigratedSchema(_MigratedSchema,
                           test_fixtures.OpportunisticDbFixture):
    pass


class MySQLMigratedSchema(_MigratedSchema,
                          test_fixtures.MySQLOpportunisticFixture):
    pass


class _GrantsTests(test_fixtures.OpportunisticDBTestMixin):

    def setUp(self):
        super().setUp()
        self.context = nova_context.RequestContext(
            user_id='admin', project_id='admin-project', is_admin=True)

    def _rows(self):
        with db_api.context_manager.reader.using(self.context) as session:
            return sorted(session.execute(sa.select(
                models.UsbDeviceGrant.device_id,
                models.UsbDeviceGrant.project_id)).all())

    def test_grant_create_returns_and_stores_the_grant(self):
        now = datetime.datetime(2026, 3, 4, 5, 6, 7)
        self.useFixture(_TimeOverride(now))
        grant = db_api.grant_create(self.context, DEVICE, PROJECT)
        self.assertEqual({'device_id': DEVICE, 'project_id': PROJECT,
                          'created_at': now}, grant)
        self.assertEqual([(DEVICE, PROJECT)], self._rows())

    def test_grant_create_again_returns_the_first_grant(self):
        # Microseconds: MySQL keeps whole seconds, and the first answer
        # must be the grant as stored, as the second one reads it.
        first_time = datetime.datetime(2026, 3, 4, 5, 6, 7, 890000)
        time = self.useFixture(_TimeOverride(first_time))
        first = db_api.grant_create(self.context, DEVICE, PROJECT)
        time.advance(3600)
        again = db_api.grant_create(self.context, DEVICE, PROJECT)
        self.assertEqual(first, again)
        self.assertEqual(first_time.replace(microsecond=0),
                         again['created_at'].replace(microsecond=0))
        self.assertEqual([(DEVICE, PROJECT)], self._rows())

    def test_grant_created_meanwhile_is_returned(self):
        """Another request stores the grant between this one's read and
        its insert: the unique constraint refuses the insert and the
        other's grant is the answer.
        """
        other_request = db_api.grant_create(self.context, DEVICE, PROJECT)
        real_query = db_api._one
        queries = []

        def misses_first_time(device_id, project_id):
            queries.append((device_id, project_id))
            query = real_query(device_id, project_id)
            return query.where(sa.false()) if len(queries) == 1 else query

        with mock.patch.object(db_api, '_one', misses_first_time):
            grant = db_api.grant_create(self.context, DEVICE, PROJECT)
        self.assertEqual(other_request, grant)
        self.assertEqual(2, len(queries))
        self.assertEqual([(DEVICE, PROJECT)], self._rows())

    def test_grant_create_retries_a_deadlock(self):
        real_query = db_api._one
        queries = []

        def deadlocks_first_time(device_id, project_id):
            queries.append((device_id, project_id))
            if len(queries) == 1:
                raise db_exception.DBDeadlock()
            return real_query(device_id, project_id)

        # No wait between the tries.
        with mock.patch.object(db_api, '_one', deadlocks_first_time), \
                mock.patch('time.sleep'):
            grant = db_api.grant_create(self.context, DEVICE, PROJECT)
        self.assertEqual(PROJECT, grant['project_id'])
        self.assertEqual(2, len(queries))
        self.assertEqual([(DEVICE, PROJECT)], self._rows())

    def test_unique_constraint_refuses_a_second_row(self):
        def add_twice():
            with db_api.context_manager.writer.using(self.context) as session:
                for _ in range(2):
                    session.add(models.UsbDeviceGrant(device_id=DEVICE,
                                                      project_id=PROJECT))
                    session.flush()

        self.assertRaises(db_exception.DBDuplicateEntry, add_twice)
        self.assertEqual([], self._rows())

    def test_same_device_many_projects_and_project_many_devices(self):
        db_api.grant_create(self.context, DEVICE, PROJECT)
        db_api.grant_create(self.context, DEVICE, OTHER_PROJECT)
        db_api.grant_create(self.context, OTHER_DEVICE, PROJECT)
        self.assertEqual(sorted([PROJECT, OTHER_PROJECT]),
                         db_api.grants_for_device(self.context, DEVICE))
        self.assertEqual([PROJECT],
                         db_api.grants_for_device(self.context, OTHER_DEVICE))
        self.assertEqual({DEVICE, OTHER_DEVICE},
                         db_api.devices_granted_to(self.context, PROJECT))
        self.assertEqual({DEVICE}, db_api.devices_granted_to(
            self.context, OTHER_PROJECT))

    def test_nothing_granted(self):
        self.assertEqual([], db_api.grants_for_device(self.context, DEVICE))
        self.assertEqual(set(), db_api.devices_granted_to(self.context,
                                                          PROJECT))
        self.assertEqual({}, db_api.grants_for_devices(self.context, []))

    def test_grants_for_devices(self):
        db_api.grant_create(self.context, OTHER_DEVICE, PROJECT)
        db_api.grant_create(self.context, DEVICE, PROJECT)
        db_api.grant_create(self.context, DEVICE, OTHER_PROJECT)
        db_api.grant_create(self.context, THIRD_DEVICE, OTHER_PROJECT)
        self.assertEqual(
            {DEVICE: sorted([PROJECT, OTHER_PROJECT]),
             OTHER_DEVICE: [PROJECT],
             'd0000000-0000-5000-8000-000000000000': []},
            db_api.grants_for_devices(
                self.context,
                [DEVICE, OTHER_DEVICE,
                 'd0000000-0000-5000-8000-000000000000']))

    def test_grants_for_devices_is_one_query(self):
        for device_id in (DEVICE, OTHER_DEVICE, THIRD_DEVICE):
            db_api.grant_create(self.context, device_id, PROJECT)
        statements = []
        engine = db_api.context_manager.writer.get_engine()

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        sa.event.listen(engine, 'before_cursor_execute', count)
        self.addCleanup(sa.event.remove, engine, 'before_cursor_execute',
                        count)
        grants = db_api.grants_for_devices(
            self.context, [DEVICE, OTHER_DEVICE, THIRD_DEVICE])
        self.assertEqual(3, len(grants))
        self.assertEqual(1, len([s for s in statements
                                 if s.lstrip().upper().startswith('SELECT')
                                 and 'usb_device_grants' in s]),
                         statements)

    def test_grant_delete(self):
        db_api.grant_create(self.context, DEVICE, PROJECT)
        db_api.grant_create(self.context, DEVICE, OTHER_PROJECT)
        db_api.grant_delete(self.context, DEVICE, PROJECT)
        self.assertEqual([(DEVICE, OTHER_PROJECT)], self._rows())

    def test_grant_delete_of_a_missing_grant_raises(self):
        db_api.grant_create(self.context, DEVICE, OTHER_PROJECT)
        db_api.grant_create(self.context, OTHER_DEVICE, PROJECT)
        error = self.assertRaises(exception.UsbGrantNotFound,
                                  db_api.grant_delete, self.context,
                                  DEVICE, PROJECT)
        self.assertEqual(404, error.code)
        self.assertEqual('Project %s has no grant for USB device %s.' % (
            PROJECT, DEVICE), str(error))
        self.assertEqual([(DEVICE, OTHER_PROJECT), (OTHER_DEVICE, PROJECT)],
                         self._rows())

    def test_grant_delete_all_for_device(self):
        db_api.grant_create(self.context, DEVICE, PROJECT)
        db_api.grant_create(self.context, DEVICE, OTHER_PROJECT)
        db_api.grant_create(self.context, OTHER_DEVICE, PROJECT)
        self.assertEqual(sorted([PROJECT, OTHER_PROJECT]),
                         db_api.grant_delete_all_for_device(self.context,
                                                            DEVICE))
        self.assertEqual([(OTHER_DEVICE, PROJECT)], self._rows())
        self.assertEqual([], db_api.grant_delete_all_for_device(
            self.context, DEVICE))


class _TimeOverride(fixtures.Fixture):
    """oslo_utils' clock stopped at ``now`` (created_at comes from it)."""

    def __init__(self, now):
        super().__init__()
        self.now = now

    def _setUp(self):
        timeutils.set_time_override(self.now)
        self.addCleanup(timeutils.clear_time_override)

    def advance(self, seconds):
        timeutils.advance_time_seconds(seconds)


class SQLiteGrantsTestCase(_GrantsTests, base.BaseTestCase):
    FIXTURE = SQLiteMigratedSchema


class MySQLGrantsTestCase(_GrantsTests, base.BaseTestCase):
    FIXTURE = MySQLMigratedSchema
    SKIP_ON_UNAVAILABLE_DB = not os.environ.get('NOVA_USB_REQUIRE_MYSQL')

    def test_project_id_of_255_characters_is_stored_whole(self):
        project_id = 'p' * 254 + 'q'
        grant = db_api.grant_create(self.context, DEVICE, project_id)
        self.assertEqual(project_id, grant['project_id'])
        self.assertEqual([project_id],
                         db_api.grants_for_device(self.context, DEVICE))
        self.assertEqual({DEVICE}, db_api.devices_granted_to(
            self.context, project_id))

    def test_project_id_of_256_characters_is_refused(self):
        """Strict mode: refused, not cut to 255 (and so granted to
        another project).
        """
        self.assertRaises(db_exception.DBDataError, db_api.grant_create,
                          self.context, DEVICE, 'p' * 256)
        self.assertEqual([], self._rows())

    def test_table_is_innodb_utf8(self):
        with db_api.context_manager.reader.using(self.context) as session:
            engine, collation = session.execute(sa.text(
                "SELECT engine, table_collation FROM information_schema"
                ".tables WHERE table_schema = DATABASE() AND table_name = "
                "'usb_device_grants'")).one()
        self.assertEqual('InnoDB', engine)
        self.assertTrue(collation.startswith('utf8'), collation)


class ConfigurationTestCase(base.BaseTestCase):
    """The factory starts on [usb_database], never on Nova's [database]."""

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(config_fixture.Config(db_api.CONF))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        # Nova's own database, which these tables must never reach.
        self.conf.config(group='database', connection='sqlite:///%s' %
                         os.path.join(self.tmp, 'nova.db'))
        fresh = enginefacade.transaction_context()
        self.addCleanup(db_api.context_manager.patch_factory(fresh))
        self.addCleanup(_dispose, fresh)

    def test_first_transaction_uses_usb_database(self):
        path = os.path.join(self.tmp, 'nova_usb.db')
        self.conf.config(group='usb_database', connection='sqlite:///' + path)
        self.assertFalse(db_api.context_manager.is_started)
        self.assertEqual(path, db_api.get_engine().url.database)
        self.assertTrue(db_api.context_manager.is_started)

    def test_no_usb_database_is_an_error_not_novas_database(self):
        self.assertRaises(db_exception.CantStartEngineError,
                          db_api.grants_for_device,
                          nova_context.get_admin_context(), DEVICE)
        self.assertFalse(db_api.context_manager.is_started)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, 'nova.db')))


def _dispose(context_manager):
    if context_manager.is_started:
        context_manager.writer.get_engine().dispose()
