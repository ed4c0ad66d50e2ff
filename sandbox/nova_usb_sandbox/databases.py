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

"""The sandbox's Nova databases: made and removed as a deployment does.

Nova's API database, cell0 and cell1, and nova-usb's own database (the
grants nova-api keeps), as SQLite files in the state directory or as new
databases on a MySQL server (nova_usb_sandbox.mysql), with Nova's own
migrations and ``nova-manage cell_v2`` commands, and nova-usb's migrations
as ``nova-usb-manage db sync`` runs them (the same code).
"""

import contextlib
import io
import logging as py_logging
import sqlite3

LOG = py_logging.getLogger(__name__)


class Unusable(Exception):
    """The databases cannot be made; the message says why."""


def create(settings, mysql, harness):
    """Make the databases; ``mysql``: a nova_usb_sandbox.mysql.Server, or
    None for SQLite. ``harness`` keeps the fixtures they need.
    """
    from nova.cmd import manage

    if mysql is not None:
        _mysql_databases(mysql)
    else:
        _sqlite_databases(settings, harness)
    commands = manage.CellV2Commands()
    with contextlib.redirect_stdout(_LogWriter()):
        if commands.map_cell0(settings.connection('nova_cell0')) != 0:
            raise Unusable('nova-manage cell_v2 map_cell0 failed')
        if mysql is not None and manage.DbCommands().sync() not in (None, 0):
            # nova-manage db sync: cell0, then cell1 ([database]).
            raise Unusable('nova-manage db sync failed')
        if commands.create_cell(
                name='cell1', transport_url='fake:/',
                database_connection=settings.connection('nova_cell1'),
                verbose=True) != 0:
            raise Unusable('nova-manage cell_v2 create_cell failed')
    _usb_database()


def _usb_database():
    """nova-usb's schema, in [usb_database] (``nova-usb-manage db sync``)."""
    from nova_usb.db import migration as usb_migration
    try:
        usb_migration.db_sync()
    except Exception as error:
        raise Unusable('nova-usb-manage db sync failed: %s' % error)


def _sqlite_databases(settings, harness):
    from nova.db.main import api as main_db_api
    from nova.db import migration
    from nova.tests import fixtures as nova_fixtures

    for name in ('nova_api', 'nova_cell0', 'nova_cell1', 'nova_usb'):
        # Write-ahead logging: readers never wait for the writer.
        with contextlib.closing(sqlite3.connect(
                settings.path(name + '.sqlite'))) as conn:
            conn.execute('PRAGMA journal_mode=WAL')
    # SQLite has one writer per file: Nova's services in one process
    # take turns per database, as in Nova's functional tests.
    harness.useFixture(nova_fixtures.DatabaseWriteLock())
    migration.db_sync(database='api')
    migration.db_sync(database='main')
    main_db_api.get_engine().dispose()
    # cell0 has the main schema: a copy of the fresh cell1 database
    # (SQLite's backup API, consistent whatever the WAL holds).
    with contextlib.closing(sqlite3.connect(
            settings.path('nova_cell1.sqlite'))) as cell1, \
            contextlib.closing(sqlite3.connect(
                settings.path('nova_cell0.sqlite'))) as cell0:
        cell1.backup(cell0)


def _mysql_databases(mysql):
    """New databases on the server, then nova-manage api_db sync; the
    cells' schemas come after map_cell0, as in a deployment. No write
    lock: the server has many writers at once.
    """
    from nova.cmd import manage
    from nova_usb_sandbox import mysql as mysql_server
    try:
        mysql.create()
    except mysql_server.Unusable as error:
        raise Unusable(str(error))
    with contextlib.redirect_stdout(_LogWriter()):
        if manage.ApiDbCommands().sync() not in (None, 0):
            raise Unusable('nova-manage api_db sync failed')


def drop(mysql):
    """Drop the databases made on a MySQL server."""
    # Every connection Nova holds goes first: a DROP waits for the
    # locks of a connection's open transaction.
    from nova import context as nova_context
    from nova.db.api import api as api_db_api
    from nova.db.main import api as main_db_api
    from nova_usb.db import api as usb_db_api
    managers = [api_db_api.context_manager, main_db_api.context_manager]
    if usb_db_api.context_manager.is_started:
        managers.append(usb_db_api.context_manager)
    managers += [cell[0] for cell in nova_context.CELL_CACHE.values()]
    for manager in managers:
        try:
            manager.writer.get_engine().dispose()
        except Exception:  # the DROP is bounded anyway
            LOG.exception('Could not close a database engine')
    mysql.drop()


class _LogWriter(io.TextIOBase):
    """nova-manage prints; the sandbox logs it."""

    def write(self, text):
        if text.strip():
            LOG.info('nova-manage: %s', text.strip())
        return len(text)
