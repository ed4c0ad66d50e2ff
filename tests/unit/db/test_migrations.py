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

"""nova-usb's migrations, on SQLite and on MySQL: they build exactly the
tables the models declare, one revision after the other, up to the head
that db_sync reaches. The MySQL tests skip or fail as those of
test_requests_db.
"""

import os

from alembic import command as alembic_command
from alembic import script as alembic_script
from oslo_db.sqlalchemy import enginefacade
from oslo_db.sqlalchemy import test_fixtures
from oslo_db.sqlalchemy import test_migrations
from oslotest import base
import sqlalchemy as sa

from nova_usb.db import migration
from nova_usb.db import models

SKIP_MYSQL = not os.environ.get('NOVA_USB_REQUIRE_MYSQL')


class _ModelsMigrationsSync(test_migrations.ModelsMigrationsSync):
    """The schema the migrations make is the one the models declare."""

    def setUp(self):
        super().setUp()
        self.engine = enginefacade.writer.get_engine()

    def db_sync(self, engine):
        migration.db_sync(engine=engine)

    def get_engine(self):
        return self.engine

    def get_metadata(self):
        return models.BASE.metadata


class SQLiteModelsMigrationsSyncTestCase(
        _ModelsMigrationsSync, test_fixtures.OpportunisticDBTestMixin,
        base.BaseTestCase):
    pass


class MySQLModelsMigrationsSyncTestCase(
        _ModelsMigrationsSync, test_fixtures.OpportunisticDBTestMixin,
        base.BaseTestCase):
    FIXTURE = test_fixtures.MySQLOpportunisticFixture
    SKIP_ON_UNAVAILABLE_DB = SKIP_MYSQL


class _MigrationsWalk(test_fixtures.OpportunisticDBTestMixin):
    """Every revision from the base to the head, each with its check.

    A new revision needs a ``_check_<revision>`` method here that looks at
    what it changed (and a ``_pre_upgrade_<revision>`` to put data in
    before, when it moves data).
    """

    def setUp(self):
        super().setUp()
        self.engine = enginefacade.writer.get_engine()
        self.config = migration.alembic_conf()
        self.script = alembic_script.ScriptDirectory.from_config(self.config)

    def test_single_base_and_head(self):
        self.assertEqual(1, len(self.script.get_bases()))
        self.assertEqual(1, len(self.script.get_heads()))

    def test_walk_versions(self):
        revisions = [r.revision for r in self.script.walk_revisions()]
        revisions.reverse()  # walk_revisions goes from the head down
        with self.engine.begin() as connection:
            self.config.attributes['connection'] = connection
            for revision in revisions:
                check = getattr(self, '_check_%s' % revision, None)
                self.assertIsNotNone(
                    check, 'migration %s has no test' % revision)
                pre_upgrade = getattr(self, '_pre_upgrade_%s' % revision,
                                      None)
                if pre_upgrade:
                    pre_upgrade(connection)
                alembic_command.upgrade(self.config, revision)
                check(connection)

    def test_db_sync_reaches_the_head(self):
        self.assertIsNone(migration.db_version(engine=self.engine))
        migration.db_sync(engine=self.engine)
        self.assertEqual(self.script.get_current_head(),
                         migration.db_version(engine=self.engine))
        self.assertEqual(migration.head(),
                         migration.db_version(engine=self.engine))
        # Again: nothing left to do, and no error.
        migration.db_sync(engine=self.engine)
        self.assertEqual(migration.head(),
                         migration.db_version(engine=self.engine))

    def test_db_sync_to_a_revision(self):
        migration.db_sync('90cb13549fa9', engine=self.engine)
        self.assertEqual('90cb13549fa9',
                         migration.db_version(engine=self.engine))

    def _check_90cb13549fa9(self, connection):
        inspector = sa.inspect(connection)
        self.assertIn('usb_device_grants', inspector.get_table_names())
        columns = {c['name']: c
                   for c in inspector.get_columns('usb_device_grants')}
        self.assertEqual(
            {'id', 'device_id', 'project_id', 'created_at', 'updated_at'},
            set(columns))
        self.assertEqual((36, 255), (columns['device_id']['type'].length,
                                     columns['project_id']['type'].length))
        self.assertFalse(columns['device_id']['nullable'])
        self.assertFalse(columns['project_id']['nullable'])
        self.assertEqual(
            [('uniq_usb_device_grants0device_id0project_id',
              ['device_id', 'project_id'])],
            [(u['name'], u['column_names'])
             for u in inspector.get_unique_constraints('usb_device_grants')])
        self.assertIn(
            ('usb_device_grants_project_id_idx', ['project_id']),
            [(i['name'], i['column_names'])
             for i in inspector.get_indexes('usb_device_grants')])


class SQLiteMigrationsWalkTestCase(_MigrationsWalk, base.BaseTestCase):
    pass


class MySQLMigrationsWalkTestCase(_MigrationsWalk, base.BaseTestCase):
    FIXTURE = test_fixtures.MySQLOpportunisticFixture
    SKIP_ON_UNAVAILABLE_DB = SKIP_MYSQL
