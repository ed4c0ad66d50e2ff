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

"""The schema of nova-usb's database: alembic, as Nova migrates its own.

The revisions are in nova_usb/db/migrations; nova-usb-manage db sync and
db version call these.
"""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic.runtime import migration as alembic_migration
from alembic import script as alembic_script
from oslo_log import log as logging

from nova_usb.db import api as db_api

LOG = logging.getLogger(__name__)

ALEMBIC_INI = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           'alembic.ini')


def alembic_conf():
    """alembic's configuration of nova-usb's migrations."""
    config = alembic_config.Config(ALEMBIC_INI)
    # alembic.ini's logging is for the alembic command; a service or
    # nova-usb-manage keeps its own.
    config.attributes['configure_logger'] = False
    return config


def head():
    """The newest revision of the migrations."""
    return alembic_script.ScriptDirectory.from_config(
        alembic_conf()).get_current_head()


def db_sync(version=None, engine=None):
    """Upgrade the database to ``version``, by default the newest.

    ``engine``: the database's, by default that of [usb_database].
    """
    engine = engine or db_api.get_engine()
    config = alembic_conf()
    LOG.info('Upgrading nova-usb database to %s', version or 'head')
    with engine.begin() as connection:
        # env.py migrates this connection, not alembic.ini's URL.
        config.attributes['connection'] = connection
        alembic_command.upgrade(config, version or 'head')


def db_version(engine=None):
    """The database's revision, None for a database never synced."""
    engine = engine or db_api.get_engine()
    with engine.connect() as connection:
        return alembic_migration.MigrationContext.configure(
            connection).get_current_revision()
