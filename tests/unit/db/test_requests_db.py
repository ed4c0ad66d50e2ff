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

"""Requests stored through Nova's real database API, on SQLite and MySQL.

MySQL (MariaDB here) enforces instance_system_metadata's String(255) values;
SQLite silently stores anything, so only the MySQL run proves that nothing
is cut. The MySQL tests follow OpenStack's opportunistic convention (user,
password and database openstack_citest on localhost); tools/mariadb.sh
starts such a server. They skip when none is reachable, except when
NOVA_USB_REQUIRE_MYSQL is set, as the test command does: then they fail.
"""

import os

from nova import context as nova_context
from nova.db.main import api as db_api
from nova.db.main import models
from oslo_db import exception as db_exception
from oslo_db.sqlalchemy import test_fixtures
from oslo_utils import uuidutils
from oslotest import base

from nova_usb.db import requests
from tests.unit.db import test_requests


class _NovaSchema(test_fixtures.GeneratesSchema):
    """Nova's main database schema, but for the migrations table.

    Nova's models declare one index of the migrations table that only
    Nova's own migrations know how to shorten for MySQL; nova-usb never
    touches that table.
    """

    def get_enginefacade(self):
        return db_api.context_manager

    def generate_schema_create_all(self, engine):
        models.BASE.metadata.create_all(engine, tables=[
            table for table in models.BASE.metadata.sorted_tables
            if table.name != 'migrations'])


class SQLiteNovaSchema(_NovaSchema, test_fixtures.OpportunisticDbFixture):
    pass


class MySQLNovaSchema(_NovaSchema, test_fixtures.MySQLOpportunisticFixture):
    pass


class _StoredRequestsTests(test_fixtures.OpportunisticDBTestMixin):

    def setUp(self):
        super().setUp()
        self.context = nova_context.get_admin_context()
        self.uuid = uuidutils.generate_uuid()
        db_api.instance_create(self.context, {
            'uuid': self.uuid, 'project_id': 'p', 'user_id': 'u',
            'system_metadata': {'image_min_ram': '0'}})

    def _save(self, usb_requests):
        sysmeta = self._load_sysmeta()
        requests.store(sysmeta, usb_requests)
        db_api.instance_update(self.context, self.uuid,
                               {'system_metadata': sysmeta})

    def _load_sysmeta(self):
        instance = db_api.instance_get_by_uuid(
            self.context, self.uuid, columns_to_join=['system_metadata'])
        return {item['key']: item['value']
                for item in instance['system_metadata']}

    def test_16_devices_and_4_controllers_round_trip(self):
        wanted = test_requests.many(devices=16, controllers=4)
        self._save(wanted)
        stored = self._load_sysmeta()
        self.assertEqual(wanted, requests.load(stored))
        self.assertEqual('0', stored['image_min_ram'])

    def test_64_devices_round_trip(self):
        wanted = test_requests.many(devices=64, controllers=4)
        self._save(wanted)
        self.assertEqual(wanted, requests.load(self._load_sysmeta()))

    def test_shrink_then_clear(self):
        self._save(test_requests.many(devices=16))
        self._save(test_requests.many(devices=2, controllers=0))
        self.assertEqual(test_requests.many(devices=2, controllers=0),
                         requests.load(self._load_sysmeta()))
        self._save(requests.UsbRequests())
        self.assertEqual({'image_min_ram': '0'}, self._load_sysmeta())


class SQLiteStoredRequestsTestCase(_StoredRequestsTests, base.BaseTestCase):
    FIXTURE = SQLiteNovaSchema


class MySQLStoredRequestsTestCase(_StoredRequestsTests, base.BaseTestCase):
    FIXTURE = MySQLNovaSchema
    SKIP_ON_UNAVAILABLE_DB = not os.environ.get('NOVA_USB_REQUIRE_MYSQL')

    def test_mysql_enforces_the_255_character_limit(self):
        """The reason for chunking: a longer value is refused, not kept."""
        sysmeta = self._load_sysmeta()
        sysmeta[requests.DEVICES_KEY] = 'x' * (requests.MAX_VALUE_LENGTH + 1)
        self.assertRaises(db_exception.DBDataError, db_api.instance_update,
                          self.context, self.uuid,
                          {'system_metadata': sysmeta})
