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

"""Per-device grants in nova-usb's own database ([usb_database]).

Only nova-api uses it: compute hosts never have database credentials. The
functions take a Nova RequestContext, which carries the transaction (it is
an enginefacade transaction context provider); a transaction of this
module's ``context_manager`` is its own, apart from those of Nova's
databases.
"""

import functools
import threading

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exception
from oslo_db.sqlalchemy import enginefacade
import sqlalchemy as sa

from nova_usb import conf as nova_usb_conf
from nova_usb.db import models
from nova_usb import exception

CONF = nova_usb_conf.CONF

context_manager = enginefacade.transaction_context()

_start_lock = threading.Lock()

Grant = models.UsbDeviceGrant


def configure(conf):
    """Point ``context_manager`` at ``conf``'s [usb_database]."""
    context_manager.configure(**dict(conf.usb_database.items()))


def _start():
    """Start ``context_manager`` on [usb_database], unless started.

    A factory nobody configured reads [database] when it starts: Nova's own
    database, where these tables must never be. nova-api configures Nova's
    databases but knows nothing of this one, so the first transaction
    configures and starts it, under a lock so that no other thread starts
    it in between. A factory already started (one the tests put in place)
    is left as it is; one that failed to start is configured again.
    """
    with _start_lock:
        if not context_manager.is_started:
            configure(CONF)
            context_manager.writer.get_engine()


def _in_transaction(mode):
    """A decorator: the function in a ``mode`` transaction (a reader or
    writer of ``context_manager``) of the started factory.
    """
    def decorator(fn):
        transactional = mode(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            _start()
            return transactional(*args, **kwargs)
        return wrapper
    return decorator


_reader = _in_transaction(context_manager.reader)
_writer = _in_transaction(context_manager.writer)
# Around a writer, so that each try is a transaction of its own: InnoDB
# ends one of two writers whose locks cross (racing inserts of one grant,
# a delete of all a device's grants next to a grant) as a deadlock.
_retry_on_deadlock = oslo_db_api.wrap_db_retry(max_retries=5,
                                               retry_on_deadlock=True)


def get_engine():
    """The engine of [usb_database] (migrations use it)."""
    _start()
    return context_manager.writer.get_engine()


def _one(device_id, project_id):
    return sa.select(Grant).where(Grant.device_id == device_id,
                                  Grant.project_id == project_id)


def _as_dict(grant):
    return {'device_id': grant.device_id, 'project_id': grant.project_id,
            'created_at': grant.created_at}


def grant_create(context, device_id, project_id):
    """Grant the device to the project; the grant as a dict.

    Idempotent, as the PUT that makes it: granting again returns the grant
    already stored, with its first created_at. When another request stores
    the same grant between this one's read and its insert, the unique
    constraint refuses this insert, and the other's grant is read in a new
    transaction (on MySQL, the failed one would still read the snapshot in
    which the grant did not exist).
    """
    try:
        return _grant_add(context, device_id, project_id)
    except db_exception.DBDuplicateEntry:
        return _grant_get(context, device_id, project_id)


@_retry_on_deadlock
@_writer
def _grant_add(context, device_id, project_id):
    grant = context.session.scalars(_one(device_id, project_id)).first()
    if grant is None:
        grant = Grant(device_id=device_id, project_id=project_id)
        context.session.add(grant)
        context.session.flush()
        # created_at as stored (MySQL keeps whole seconds), as every later
        # read of the grant returns it.
        context.session.refresh(grant)
    return _as_dict(grant)


@_reader
def _grant_get(context, device_id, project_id):
    return _as_dict(context.session.scalars(
        _one(device_id, project_id)).one())


@_retry_on_deadlock
@_writer
def grant_delete(context, device_id, project_id):
    """Take the grant back; UsbGrantNotFound when there is none."""
    deleted = context.session.execute(
        sa.delete(Grant).where(Grant.device_id == device_id,
                               Grant.project_id == project_id))
    if not deleted.rowcount:
        raise exception.UsbGrantNotFound(device_id=device_id,
                                         project_id=project_id)


@_reader
def grants_for_device(context, device_id):
    """The ids of the projects the device is granted to, sorted."""
    return list(context.session.scalars(
        sa.select(Grant.project_id).where(Grant.device_id == device_id)
        .order_by(Grant.project_id)))


@_reader
def grants_for_devices(context, device_ids):
    """{device id: sorted ids of the projects it is granted to} for each
    of ``device_ids`` (an empty list for a device granted to none), in one
    query, for listings.
    """
    grants = {device_id: [] for device_id in device_ids}
    if grants:
        rows = context.session.execute(
            sa.select(Grant.device_id, Grant.project_id)
            .where(Grant.device_id.in_(grants))
            .order_by(Grant.device_id, Grant.project_id))
        for device_id, project_id in rows:
            # setdefault: MySQL's utf8 collation compares ids without
            # case, so a row may name a requested id in another case.
            grants.setdefault(device_id, []).append(project_id)
    return grants


@_reader
def devices_granted_to(context, project_id):
    """The ids of the devices granted to the project, as a set."""
    return set(context.session.scalars(
        sa.select(Grant.device_id).where(Grant.project_id == project_id)))


@_retry_on_deadlock
@_writer
def grant_delete_all_for_device(context, device_id):
    """Take back every grant of the device (a device gone for good); the
    ids of the projects that had one, sorted.

    The grants are read under lock and exactly those deleted, so the list
    names what was removed even when a grant is made meanwhile.
    """
    project_ids = list(context.session.scalars(
        sa.select(Grant.project_id).where(Grant.device_id == device_id)
        .order_by(Grant.project_id).with_for_update()))
    if project_ids:
        context.session.execute(
            sa.delete(Grant).where(Grant.device_id == device_id,
                                   Grant.project_id.in_(project_ids)))
    return project_ids
