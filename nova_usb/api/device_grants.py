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

"""``/os-usb-devices/{device_id}/grants``: the projects a USB device is
granted to, for operators (nova_usb.api.grants says what a grant allows).

A grant names a device the cloud has now: its compute host is found by
asking the hosts (nova_usb.api.hosts), so that a hub, a device for flavors
only or one its host's [usb] device_spec does not select is refused with
its reason, and keystone is asked whether the project exists, as Nova does
for flavor access. Grants take effect at once: nova-api reads them at each
listing and attach; no service restarts.

Removing a grant takes the device back: when a server of the project holds
it through the API and nothing else grants it to the project any more, it
is detached first (live or from the stopped server's next start), as the
server action ``usb_revoke`` that the server's owner reads in its events,
with its notifications. When it cannot be detached now (the server is busy
with a Nova operation, its host is down), the grant stays and the refusal
says why: nothing changed. A device the server got from its flavor is not
the grant's, and stays.
"""

from nova.api.openstack import common
from nova.api.openstack import identity
from nova.api.openstack import wsgi
from nova.api import validation
from nova.compute import api as compute
from oslo_log import log as logging

from nova_usb import actions
from nova_usb.api import errors
from nova_usb.api import grants
from nova_usb.api import hosts
from nova_usb.api import schemas
from nova_usb.api import views
from nova_usb.db import api as db_api
from nova_usb.db import requests as usb_requests
from nova_usb import exception
from nova_usb.policies import device_grants as policies
from nova_usb import policy
from nova_usb import rpc as usb_rpc

LOG = logging.getLogger(__name__)


def _check_path(req, device_id, project_id=None):
    if not schemas.is_device_id(device_id):
        raise errors.http_error(404, exception.UsbDeviceIdMalformed(
            device_id=views.shown_id(device_id)).format_message())
    if project_id is not None and not schemas.is_path_project_id(
            req, project_id):
        raise errors.http_error(400, 'Project ID %s is not a valid project.'
                                % views.shown_id(project_id))


@validation.validated
class UsbDeviceGrantsController(wsgi.Controller):

    def __init__(self):
        super().__init__()
        self.compute_api = compute.API()
        self.usb_rpc = usb_rpc.UsbComputeAPI()
        self.hosts = hosts.ComputeHosts(self.usb_rpc)

    @wsgi.expected_errors(errors.EXPECTED)
    @validation.query_schema(schemas.no_query)
    @validation.response_body_schema(schemas.grants_response)
    def index(self, req, device_id):
        """GET /os-usb-devices/{device_id}/grants

        Those of its rule when a compute host has the device now, and the
        stored ones, which outlive the device's absence.
        """
        context = req.environ['nova.context']
        policy.authorize(context, policies.POLICY_ROOT % 'list', {})
        _check_path(req, device_id)
        with errors.translated('the compute hosts'):
            found = self.hosts.find_device(context, device_id)
            if found is not None:
                listed = grants.for_device(context, device_id,
                                           found[1].projects)
            else:
                listed = grants.for_device(context, device_id)
                if not listed:
                    raise exception.UsbDeviceUnknown(device_id=device_id)
        return {'usb_device_grants': listed}

    @wsgi.expected_errors(errors.EXPECTED)
    @validation.response_body_schema(schemas.grant_response)
    def update(self, req, device_id, id, body=None):
        """PUT /os-usb-devices/{device_id}/grants/{project_id}: grant (a
        grant that exists already is left as it is).
        """
        context = req.environ['nova.context']
        policy.authorize(context, policies.POLICY_ROOT % 'create', {})
        _check_path(req, device_id, id)
        with errors.translated('the compute hosts'):
            if not grants.stores_grants():
                raise exception.UsbGrantsNotStored()
            identity.verify_project_id(context, id)
            found = self.hosts.find_device(context, device_id)
            if found is None:
                raise exception.UsbDeviceUnknown(device_id=device_id)
            grants.check_grantable(found[1])
            db_api.grant_create(context, device_id, id)
        LOG.info('USB device %s granted to project %s', device_id, id)
        return {'usb_device_grant': {'project_id': id,
                                     'source': grants.SOURCE_GRANT}}

    @wsgi.response(204)
    @wsgi.expected_errors(errors.EXPECTED)
    @validation.response_body_schema(schemas.empty_response)
    def delete(self, req, device_id, id):
        """DELETE /os-usb-devices/{device_id}/grants/{project_id}"""
        context = req.environ['nova.context']
        policy.authorize(context, policies.POLICY_ROOT % 'delete', {})
        _check_path(req, device_id, id)
        with errors.translated('the compute hosts'):
            if not grants.stores_grants():
                raise exception.UsbGrantsNotStored()
            if id not in db_api.grants_for_device(context, device_id):
                raise exception.UsbGrantNotFound(device_id=device_id,
                                                 project_id=id)
            self._take_back(context, device_id, id)
            db_api.grant_delete(context, device_id, id)
        LOG.info('Grant of USB device %s to project %s removed', device_id,
                 id)

    def _take_back(self, context, device_id, project_id):
        """Detach the device from the server of ``project_id`` that holds
        it, when the grant being removed is what let the project have it.
        """
        found = self.hosts.find_device(context, device_id)
        if found is None or found[1].server_id is None:
            return
        host, device = found
        instance = common.get_instance(self.compute_api, context,
                                       device.server_id)
        remaining = [p for p in db_api.grants_for_device(context, device_id)
                     if p != project_id]
        if (instance.project_id != project_id or
                grants.granted(device, remaining, project_id)):
            return
        request = usb_requests.load(instance.system_metadata).device(
            device_id)
        if request is None or request.allocated:
            # Not the grant's: the server's flavor gave it the device.
            return
        with errors.translated('host %s' % host):
            with actions.server_action(context, instance, actions.REVOKE,
                                       device_id=device_id,
                                       vendor_id=device.vendor_id,
                                       product_id=device.product_id):
                self.usb_rpc.detach_device(context, instance, device_id)
        LOG.info('USB device %s detached: its grant to project %s is '
                 'removed', device_id, project_id, instance=instance)
