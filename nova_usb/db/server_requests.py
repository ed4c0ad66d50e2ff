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

"""Reading and saving a server's USB requests, next to Nova's own writes.

Nova's ``Instance.save()`` sends the whole ``system_metadata`` dict and its
database layer deletes every stored key missing from it, so a save from a
copy read before another writer added a key deletes that key. nova-usb
therefore saves only while it holds Nova's own lock of the server on the
compute host, from a copy read again just before the save, and only if no
Nova operation has started on the server meanwhile: the save expects
``task_state`` None, and Nova's API sets a task state before any operation
that writes system metadata (reboot, stop, shelve, resize, rebuild, delete
and the others). When one has started, the save fails as a whole
(UsbChangeInterrupted) and the caller undoes its change.

What this does not cover: a write of system metadata that sets no task
state (a lock or an unlock with a reason, the server password cleared or
posted) made between the read and the save is undone by the save, as
nothing in ``Instance.save()`` expects the system metadata read; and such
a write, saving the whole system metadata it read at the start of its
request, deletes requests saved meanwhile (tests/functional/test_races.py,
doc/source/admin/compute.rst).
"""

from nova import exception as nova_exception
from nova import objects
import oslo_messaging as messaging

from nova_usb.db import requests as usb_requests
from nova_usb import exception


def read(context, instance_uuid):
    """The server as stored now, with its system metadata."""
    return objects.Instance.get_by_uuid(
        context, instance_uuid, expected_attrs=['system_metadata'])


def list_on_host(context, host):
    """The servers of a compute host, with their system metadata."""
    return objects.InstanceList.get_by_host(
        context, host, expected_attrs=['system_metadata'])


def load(instance):
    """The UsbRequests of an Instance object (CorruptUsbRequests when they
    cannot be read).
    """
    return usb_requests.load(instance.system_metadata)


def save(context, instance, requests):
    """Store ``requests`` as the server's, changing no other key.

    ``instance`` is the copy the change was decided on; the save starts
    from the server's system metadata as stored now.
    """
    latest = read(context, instance.uuid)
    system_metadata = dict(latest.system_metadata)
    usb_requests.store(system_metadata, requests)
    instance.system_metadata = system_metadata
    try:
        instance.save(expected_task_state=[None])
    except nova_exception.UnexpectedTaskStateError as e:
        raise exception.UsbChangeInterrupted(
            task_state=e.kwargs.get('actual', {}).get('task_state'))
    except messaging.MessagingTimeout:
        # Conductor did not answer: the save may have been made, only its
        # answer lost. What is stored now tells.
        try:
            saved = load(read(context, instance.uuid)) == requests
        except messaging.MessagingException:
            saved = False
        if not saved:
            raise exception.UsbChangeNotSaved()
