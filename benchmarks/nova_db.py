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

"""Real servers for the benchmarks: Nova's database, on SQLite.

Not a benchmark itself (tox does not run it): usb_manager.py and
usb_passthrough.py keep their servers here, so that nova-usb reads and
saves them through the code it runs in nova-compute, with nothing mocked.

* The database is Nova's main (cell) database in one SQLite file, its
  tables created from Nova's models (``nova.db.main.models``, which Nova's
  own tests keep identical to what its migrations build: the lightest
  honest schema, seconds faster than running the migrations), in
  write-ahead-log mode as Nova's threading-mode test fixtures use it.
* Servers are Nova's ``Instance`` objects, created with
  ``Instance.create()``; nova-usb reads them with
  ``Instance.get_by_uuid`` and saves them with ``Instance.save`` (via
  nova_usb.db.server_requests), unchanged.
* Nova's database API runs in this process, without nova-conductor:
  nova-compute's objects would send the same calls to nova-conductor over
  RPC, which runs this same code against its database. The RPC hop (a
  round trip through the message bus) is left out; everything else of a
  read and a save is in.
"""

import contextlib
import os
import sqlite3
import uuid

PROJECT = 'bench-project'
USER = 'bench-user'


def use_sqlite(directory):
    """Point Nova's main database API at a new SQLite file in
    ``directory`` with Nova's schema; once per process, before any
    database call.
    """
    from nova.db.main import api as main_db_api
    from nova.db.main import models
    from nova import objects

    objects.register_all()
    path = os.path.join(directory, 'nova.sqlite')
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute('PRAGMA journal_mode=WAL')
    main_db_api.context_manager.configure(connection='sqlite:///' + path)
    models.BASE.metadata.create_all(main_db_api.get_engine())
    return path


def create_server(context, host, vm_state, system_metadata=None,
                  server_uuid=None):
    """A new server of ``host`` in the database, as an Instance."""
    from nova.compute import power_state
    from nova.compute import vm_states
    from nova import objects

    instance = objects.Instance(
        context=context, uuid=server_uuid or str(uuid.uuid4()),
        project_id=PROJECT, user_id=USER, host=host,
        vm_state=vm_state, task_state=None,
        power_state=(power_state.RUNNING if vm_state == vm_states.ACTIVE
                     else power_state.SHUTDOWN),
        system_metadata=dict(system_metadata or {}))
    instance.create()
    return instance


def create_servers(context, host, vm_state, system_metadatas):
    """Servers of ``host``, one per system metadata dict, in one
    transaction (one commit instead of one per server).
    """
    from nova.db.main import api as main_db_api

    with main_db_api.context_manager.writer.using(context):
        return [create_server(context, host, vm_state, system_metadata)
                for system_metadata in system_metadatas]
