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

"""Each USB change of a server is a server action, and is announced.

* A server action (``GET /servers/{id}/os-instance-actions``, ``openstack
  server event list``) named ``usb_attach``, ``usb_detach``,
  ``usb_controller_add``, ``usb_controller_remove`` or ``usb_revoke`` (a
  detach because the device's grant to the server's project was removed,
  or because [usb] device_spec no longer lets the API hand it out), with
  one event,
  ``compute_<action>``, for the compute host's part: it starts when nova-api
  asks the host and finishes with the host's answer (Success, or Error with
  the refusal's message), a host that does not answer included.
  A detach answers 202 once the compute host accepted it, and the
  compute host records its event when the detach ends
  (nova_usb.virt.manager start_detach).
* Versioned notifications ``instance.<action>.start``, ``.end`` and
  ``.error`` (priority ERROR), published by ``nova-api:<host>`` (or
  ``nova-compute:<host>`` for a change nova-compute starts itself, a
  revocation at its start-up, and for a detach, which nova-compute ends
  after nova-api answered) when Nova's ``[notifications]
  notification_format`` is ``versioned`` or ``both``.

Requests refused before the compute host is asked (policy, locked server,
state, malformed body) leave no action and send no notification, as Nova
does for its own server actions.
"""

import contextlib

from nova.compute import utils as compute_utils
import nova.conf
from nova.notifications.objects import base as notification_base
from nova import objects
from nova.objects import base as nova_base
from nova.objects import fields
from nova import rpc
from oslo_log import log as logging

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

ATTACH = 'usb_attach'
DETACH = 'usb_detach'
# A detach because the device's grant to the server's project was removed.
REVOKE = 'usb_revoke'
ADD_CONTROLLER = 'usb_controller_add'
REMOVE_CONTROLLER = 'usb_controller_remove'

PUBLISHER = 'nova-api'
COMPUTE_PUBLISHER = 'nova-compute'


@nova_base.NovaObjectRegistry.register_if(False)
class UsbActionPayload(notification_base.NotificationObject):
    """Payload of every ``instance.usb_*`` notification.

    One shape for the four actions: the fields that do not apply are null.
    """

    OBJ_PROJECT_NAMESPACE = 'nova_usb'
    # Version 1.0: Initial version
    VERSION = '1.0'

    fields = {
        'instance_uuid': fields.UUIDField(),
        'project_id': fields.StringField(nullable=True),
        'host': fields.StringField(nullable=True),
        'request_id': fields.StringField(nullable=True),
        'action_initiator_user': fields.StringField(nullable=True),
        'action_initiator_project': fields.StringField(nullable=True),
        'device_id': fields.StringField(nullable=True),
        'vendor_id': fields.StringField(nullable=True),
        'product_id': fields.StringField(nullable=True),
        'controller_model': fields.StringField(nullable=True),
        'controller_index': fields.IntegerField(nullable=True),
        'controller_ports': fields.IntegerField(nullable=True),
        'exception': fields.StringField(nullable=True),
        'exception_message': fields.StringField(nullable=True),
        'http_code': fields.IntegerField(nullable=True),
    }


class Details(object):
    """What the notifications say of the change; the block adds what it
    learns (the device's vendor and product, the controller's index).
    """

    def __init__(self, **values):
        self.values = values

    def update(self, **values):
        self.values.update(values)


@rpc.if_notifications_enabled
def _notify(context, instance, action, phase, details, error=None,
            publisher=PUBLISHER):
    values = {name: details.get(name) for name in (
        'device_id', 'vendor_id', 'product_id', 'controller_model',
        'controller_index', 'controller_ports')}
    if error is not None:
        values.update(
            exception=type(error).__name__,
            exception_message=(error.format_message()
                               if hasattr(error, 'format_message')
                               else str(error)),
            http_code=getattr(error, 'code', None))
    else:
        values.update(exception=None, exception_message=None,
                      http_code=None)
    payload = UsbActionPayload(
        instance_uuid=instance.uuid, project_id=instance.project_id,
        host=instance.host, request_id=context.request_id,
        action_initiator_user=context.user_id,
        action_initiator_project=context.project_id, **values)
    notifier = rpc.get_versioned_notifier('%s:%s' % (publisher, CONF.host))
    emit = notifier.error if error is not None else notifier.info
    try:
        emit(context, event_type='instance.%s.%s' % (action, phase),
             payload=payload.obj_to_primitive())
    except Exception:
        # The change itself is done (or refused) either way; a lost
        # notification must not turn it into an error.
        LOG.exception('Could not send the instance.%s.%s notification',
                      action, phase, instance=instance)


@contextlib.contextmanager
def server_action(context, instance, action, publisher=PUBLISHER,
                  **details):
    """Record ``action`` on the server and announce it around the block,
    which asks the compute host (or is the compute host's own change).
    """
    start(context, instance, action)
    with compute_event(context, instance, action, publisher,
                       **details) as record:
        yield record


def start(context, instance, action):
    """Record ``action`` on the server, before its compute_event; by
    context.request_id, the event finds it, also on the compute host.
    """
    objects.InstanceAction.action_start(context, instance.uuid, action,
                                        want_result=False)


@contextlib.contextmanager
def accepted_by_compute(context, instance, action, **details):
    """Record ``action`` on the server around the block, which asks the
    compute host to accept the change: the host then records the event
    and sends the notifications itself when the change ends
    (compute_event). A refusal is recorded here, as any other.
    """
    start(context, instance, action)
    try:
        yield
    except Exception:
        with compute_event(context, instance, action, PUBLISHER, **details):
            raise


@contextlib.contextmanager
def compute_event(context, instance, action, publisher=COMPUTE_PUBLISHER,
                  **details):
    """The ``compute_<action>`` event of an action already started, and
    the notifications, around the block: nova-compute's own part of an
    accepted change (a detach after its 202).
    """
    record = Details(**details)
    _notify(context, instance, action, 'start', record.values,
            publisher=publisher)
    try:
        with compute_utils.EventReporter(context, 'compute_' + action,
                                         instance.host, instance.uuid):
            yield record
    except Exception as e:
        _notify(context, instance, action, 'error', record.values, e,
                publisher=publisher)
        raise
    _notify(context, instance, action, 'end', record.values,
            publisher=publisher)
