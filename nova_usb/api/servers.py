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

"""``/servers/{server_id}/os-usb-devices`` and ``os-usb-controllers``: the
USB devices and controllers of a server.

Every route looks the server up as Nova does (a server the caller cannot
see is a 404, and the lookup aims the request at the server's cell), then
checks policy against the server's project. A change is refused early when
the server is locked (non-admins), when nova_usb.states forbids it, or when
the server's nova-compute is down; then the compute host decides under its
lock, and each of its refusals becomes a fault of its own code.

Holders are other servers, perhaps of other projects: a caller who may not
see host details learns that the device is held, not by which server.

Device of another host or unknown device: the compute host answers "not on
this host" for both. For a caller who may see host details (admins),
nova-api then asks the other compute hosts: a device that one of them has
is a 409 (it can never be attached to this server), a device no host that
answered has is a 404. Anyone else gets a 404 at once: a project member's
request never makes nova-api ask every compute host of the cloud.

A device id in a path that is not one nova-usb could have issued
(schemas.is_path_device_id) names no device: a 404 before any compute host is
asked.
"""

import re

from nova.api.openstack import common
from nova.api.openstack import wsgi
from nova.api import validation
from nova.compute import api as compute
from nova import exception as nova_exception
from nova_usbclient import statuses
from oslo_utils import strutils

from nova_usb import actions
from nova_usb.api import errors
from nova_usb.api import grants
from nova_usb.api import hosts
from nova_usb.api import quotas
from nova_usb.api import schemas
from nova_usb.api import views
from nova_usb.db import requests as usb_requests
from nova_usb import exception
from nova_usb.policies import server_controllers as controller_policies
from nova_usb.policies import server_devices as device_policies
from nova_usb import policy
from nova_usb import records
from nova_usb import rpc as usb_rpc
from nova_usb import states
from nova_usb.virt import controllers

_CONTROLLER_INDEX = re.compile('[0-9]{1,4}')


def _check_path_id(req, device_id):
    """404 at once for a path device id nova-usb never issues."""
    if not schemas.is_path_device_id(req, device_id):
        raise errors.http_error(404, exception.UsbDeviceIdMalformed(
            device_id=views.shown_id(device_id)).format_message())


class _ServerUsbController(wsgi.Controller):
    """What the device and the controller routes share: finding the
    server, policy, and the checks before a change.
    """

    def __init__(self):
        super().__init__()
        self.compute_api = compute.API()
        self.usb_rpc = usb_rpc.UsbComputeAPI()
        self.hosts = hosts.ComputeHosts(self.usb_rpc)

    def _server(self, req, server_id, rule):
        context = req.environ['nova.context']
        instance = common.get_instance(self.compute_api, context, server_id)
        policy.authorize(context, rule, {'project_id': instance.project_id})
        return context, instance

    @staticmethod
    def _host_details(context, instance):
        """Whether the caller may learn host names and holders."""
        return policy.authorize(
            context, device_policies.POLICY_ROOT % 'show:host_details',
            {'project_id': instance.project_id}, fatal=False)

    def _host_name(self, context, instance):
        if self._host_details(context, instance):
            return 'host %s' % instance.host
        return "the server's host"

    def _check_changeable(self, context, instance, mode, action):
        """Refuse at once what the compute host would refuse anyway (or
        could not answer), before any action is recorded.
        """
        if instance.locked and not context.is_admin:
            raise nova_exception.InstanceIsLocked(instance_uuid=instance.uuid)
        mode(instance, action)
        self.hosts.check_up(context, instance.host,
                            self._host_name(context, instance))


@validation.validated
class ServerUsbDevicesController(_ServerUsbController):

    @wsgi.expected_errors(errors.EXPECTED)
    @validation.query_schema(schemas.server_devices_query)
    @validation.response_body_schema(schemas.server_devices_response)
    def index(self, req, server_id):
        """GET /servers/{server_id}/os-usb-devices[?available=true]"""
        context, instance = self._server(req, server_id,
                                         device_policies.POLICY_ROOT % 'list')
        details = self._host_details(context, instance)
        if strutils.bool_from_string(req.GET.get('available')):
            return {'usb_devices': [
                views.available_device(d, details)
                for d in self._available(context, instance)]}
        return {'usb_devices': [views.server_device(d, details)
                                for d in self._attached(context, instance)]}

    @wsgi.expected_errors(errors.EXPECTED)
    @validation.query_schema(schemas.no_query)
    @validation.response_body_schema(schemas.server_device_response)
    def show(self, req, server_id, id):
        """GET /servers/{server_id}/os-usb-devices/{device_id}"""
        context, instance = self._server(req, server_id,
                                         device_policies.POLICY_ROOT % 'show')
        _check_path_id(req, id)
        for device in self._attached(context, instance):
            if device.id == id:
                return {'usb_device': views.server_device(
                    device, self._host_details(context, instance))}
        raise errors.http_error(404, exception.UsbDeviceNotAttached(
            device_id=id).format_message())

    @wsgi.expected_errors(errors.EXPECTED)
    @validation.schema(schemas.attach)
    @validation.response_body_schema(schemas.server_device_response)
    def create(self, req, server_id, body):
        """POST /servers/{server_id}/os-usb-devices: attach."""
        context, instance = self._server(
            req, server_id, device_policies.POLICY_ROOT % 'attach')
        device_id = body['usb_device']['id']
        model = body['usb_device'].get('controller_model')
        with errors.translated(self._host_name(context, instance)):
            if model is not None:
                controllers.controller_ports(model)
            self._check_changeable(context, instance,
                                   states.device_change_mode,
                                   'attach a USB device')
            self._check_quota(context, instance, device_id)
            with actions.server_action(context, instance, actions.ATTACH,
                                       device_id=device_id,
                                       controller_model=model) as record:
                try:
                    device = self.usb_rpc.attach_device(
                        context, instance, device_id, model,
                        granted_projects=grants.granted_projects(
                            context, instance, device_id))
                except exception.UsbDeviceNotGranted:
                    raise exception.UsbDeviceNotOnServerHost(
                        device_id=device_id)
                except exception.UsbDeviceNotFound:
                    raise self._not_on_host(context, instance, device_id)
                except exception.UsbDeviceInUse:
                    if self._host_details(context, instance):
                        raise
                    raise exception.UsbDeviceHeldElsewhere(
                        device_id=device_id)
                record.update(vendor_id=device.vendor_id,
                              product_id=device.product_id)
        return {'usb_device': views.server_device(
            device, self._host_details(context, instance))}

    @wsgi.response(202)
    @wsgi.expected_errors(errors.EXPECTED)
    @validation.response_body_schema(schemas.empty_response)
    def delete(self, req, server_id, id):
        """DELETE /servers/{server_id}/os-usb-devices/{device_id}: detach.

        202 once the compute host accepted the detach; the device is
        listed ``detaching`` until it ends, and the ``usb_detach`` server
        action tells how it ended. What can be told at once (a device the
        server does not have, or has from its flavor, a detach already
        under way) is refused at once.
        """
        context, instance = self._server(
            req, server_id, device_policies.POLICY_ROOT % 'detach')
        _check_path_id(req, id)
        with errors.translated(self._host_name(context, instance)):
            self._check_changeable(context, instance,
                                   states.device_change_mode,
                                   'detach a USB device')
            with actions.accepted_by_compute(context, instance,
                                             actions.DETACH, device_id=id):
                self.usb_rpc.start_detach(context, instance, id)

    def _check_quota(self, context, instance, device_id):
        """Refuse an attach over the project's limit (403); but a device
        the caller may not have is as unknown even then (404), so that
        the quota's answer tells nothing of it. Asking the host which
        devices it grants is needed on that path only.
        """
        try:
            quotas.check_attach(context, instance, device_id)
        except exception.UsbQuotaExceeded:
            if not grants.may_use_ungranted(context, instance):
                devices = self.usb_rpc.list_host_devices(context,
                                                         instance.host)
                if not grants.usable(context, instance, [
                        d for d in devices if d.id == device_id]):
                    raise exception.UsbDeviceNotOnServerHost(
                        device_id=device_id)
            raise

    def _attached(self, context, instance):
        """The server's devices with their status (records.ServerDevice),
        from its compute host; a server on no host (shelved offloaded) has
        them all missing.
        """
        if instance.host is None:
            stored = usb_requests.load(instance.system_metadata)
            return [records.ServerDevice(
                id=r.id, vendor_id=r.vendor_id, product_id=r.product_id,
                controller_model=r.controller_model,
                status=statuses.MISSING) for r in stored.devices]
        with errors.translated(self._host_name(context, instance)):
            self.hosts.check_up(context, instance.host,
                                self._host_name(context, instance))
            return self.usb_rpc.list_server_devices(context, instance)

    def _available(self, context, instance):
        """The devices of the server's host the caller may attach to it
        now: assignable, held by no server, and granted to the server's
        project (nova_usb.api.grants).
        """
        if instance.host is None:
            return []
        with errors.translated(self._host_name(context, instance)):
            self.hosts.check_up(context, instance.host,
                                self._host_name(context, instance))
            devices = self.usb_rpc.list_host_devices(context, instance.host)
        return grants.usable(context, instance, [
            d for d in devices if d.assignable and d.server_id is None])

    def _not_on_host(self, context, instance, device_id):
        """The refusal for a device the server's host does not have.

        Only callers who may see host details make nova-api look for the
        device on the other compute hosts.
        """
        if not self._host_details(context, instance):
            return exception.UsbDeviceNotOnServerHost(device_id=device_id)
        if self.hosts.find_device(context, device_id, skip=(instance.host,)):
            return exception.UsbDeviceOnAnotherHost(device_id=device_id)
        return exception.UsbDeviceUnknown(device_id=device_id)


@validation.validated
class ServerUsbControllersController(_ServerUsbController):

    @wsgi.expected_errors(errors.EXPECTED)
    @validation.query_schema(schemas.no_query)
    @validation.response_body_schema(schemas.controllers_response)
    def index(self, req, server_id):
        """GET /servers/{server_id}/os-usb-controllers

        A server on no host (shelved offloaded) shows the controllers
        nova-usb added, as stored.
        """
        context, instance = self._server(
            req, server_id, controller_policies.POLICY_ROOT % 'list')
        if instance.host is None:
            stored = usb_requests.load(instance.system_metadata)
            found = [records.Controller(
                index=c.index, model=c.model,
                ports=controllers.controller_ports(c.model, c.ports),
                used_ports=0, removable=True) for c in stored.controllers]
        else:
            with errors.translated(self._host_name(context, instance)):
                self.hosts.check_up(context, instance.host,
                                    self._host_name(context, instance))
                found = self.usb_rpc.list_controllers(context, instance)
        return {'usb_controllers': [views.controller(c) for c in found]}

    @wsgi.expected_errors(errors.EXPECTED)
    @validation.schema(schemas.add_controller)
    @validation.response_body_schema(schemas.controller_response)
    def create(self, req, server_id, body):
        """POST /servers/{server_id}/os-usb-controllers: cold add."""
        context, instance = self._server(
            req, server_id, controller_policies.POLICY_ROOT % 'add')
        model = body['usb_controller']['model']
        ports = body['usb_controller'].get('ports')
        with errors.translated(self._host_name(context, instance)):
            controllers.controller_ports(model, ports)
            self._check_changeable(context, instance,
                                   states.controller_change_mode,
                                   'add a USB controller')
            with actions.server_action(context, instance,
                                       actions.ADD_CONTROLLER,
                                       controller_model=model,
                                       controller_ports=ports) as record:
                added = self.usb_rpc.add_controller(context, instance, model,
                                                    ports)
                record.update(controller_index=added.index,
                              controller_ports=added.ports)
        return {'usb_controller': views.controller(added)}

    @wsgi.response(204)
    @wsgi.expected_errors(errors.EXPECTED)
    @validation.response_body_schema(schemas.empty_response)
    def delete(self, req, server_id, id):
        """DELETE /servers/{server_id}/os-usb-controllers/{index}: cold
        remove.
        """
        context, instance = self._server(
            req, server_id, controller_policies.POLICY_ROOT % 'remove')
        if not _CONTROLLER_INDEX.fullmatch(id):
            raise errors.http_error(404, exception.UsbControllerNotFound(
                index=id).format_message())
        index = int(id)
        with errors.translated(self._host_name(context, instance)):
            self._check_changeable(context, instance,
                                   states.controller_change_mode,
                                   'remove a USB controller')
            with actions.server_action(context, instance,
                                       actions.REMOVE_CONTROLLER,
                                       controller_index=index):
                self.usb_rpc.remove_controller(context, instance, index)
