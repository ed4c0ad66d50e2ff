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

"""How a USB change waits its turn on a compute host, and for how long.

A change takes two locks of the server, in this order:

1. Nova's own: the in-process lock named after the server's uuid that
   Nova's compute manager takes (``nova.utils.synchronized(instance.uuid)``)
   for build, delete, stop, reboot, shelve, unshelve, resize confirm and
   revert, volume attach and detach;
2. the server's domain lock, which nova-usb's driver also takes around
   every one of its entry points that changes the domain (spawn, destroy,
   reboot, power off and on, pause, suspend, resume, rescue, migration
   steps), so that operations whose compute side runs without Nova's lock
   (start, rebuild, resize, rescue, ...) wait for a USB change too. It is
   reentrant: those entry points call one another.

Nova's own operations wait for the domain lock as long as it takes (a USB
change ends by its deadline). A USB change's waits are bounded by [usb]
lock_timeout and by nova-api's deadline (the moment it stops waiting,
seconds since the epoch): a change is neither started nor saved after the
deadline.
"""

import contextlib
import threading
import time

from oslo_concurrency import lockutils
from oslo_log import log as logging

from nova_usb import conf as nova_usb_conf
from nova_usb import exception

CONF = nova_usb_conf.CONF
LOG = logging.getLogger(__name__)

# Time the last steps of a change need after its last lock wait and
# before its deadline: libvirt calls and placement.
WORK_MARGIN = 15


class _DomainLocks(object):
    """One reentrant lock per server, kept while someone uses it."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks = {}  # uuid -> [RLock, number of users]

    @contextlib.contextmanager
    def held(self, instance_uuid, deadline=None, bounded=True):
        with self._guard:
            entry = self._locks.setdefault(instance_uuid,
                                           [threading.RLock(), 0])
            entry[1] += 1
        try:
            if bounded:
                with acquired(entry[0], deadline):
                    yield
            else:
                with entry[0]:
                    yield
        finally:
            with self._guard:
                entry[1] -= 1
                if not entry[1]:
                    del self._locks[instance_uuid]


_domain_locks = _DomainLocks()


@contextlib.contextmanager
def server_turn(instance_uuid, deadline):
    """Hold Nova's own lock of the server, then its domain lock."""
    check_deadline(deadline)
    with acquired(lockutils.internal_lock(instance_uuid), deadline):
        with _domain_locks.held(instance_uuid, deadline):
            yield


def domain_turn(instance_uuid):
    """Hold the server's domain lock, however long a USB change keeps it
    (for Nova's own operations).
    """
    return _domain_locks.held(instance_uuid, bounded=False)


@contextlib.contextmanager
def acquired(lock, deadline):
    timeout = wait_bound(deadline)
    if not lock.acquire(timeout=timeout):
        raise exception.UsbServerBusy(seconds=timeout)
    try:
        yield
    finally:
        lock.release()


def wait_bound(deadline):
    """How long a lock may be waited for: [usb] lock_timeout, and never so
    long that the rest of the change would end after ``deadline``.
    """
    bound = CONF.usb.lock_timeout
    if deadline is not None:
        bound = min(bound, deadline - time.time() - WORK_MARGIN)
    return max(bound, 0)


def check_deadline(deadline):
    if deadline is not None and time.time() > deadline:
        raise exception.UsbChangeTooLate(late=time.time() - deadline)
