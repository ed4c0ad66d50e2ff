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

"""A Python client of nova-usb's REST API over a keystoneauth session.

The one place that knows nova-usb's URLs and bodies: the ``nova`` CLI
extension and the OpenStackClient plugin call it, so does anyone scripting
against a cloud. It takes any keystoneauth session (password, token,
application credential...) and finds the compute endpoint in the service
catalog as every OpenStack client does, since nova-usb's routes live in
Nova's own URL space.

Refusals raise an :class:`ApiError` subclass per HTTP status, carrying the
message nova-api wrote for a person to act on, so that callers can both
branch on the kind of refusal and show the server's own words.

Servers are given here by id: resolving a name is each CLI's job, done with
that CLI's own lookup so that names work as users of that CLI expect.
"""

import time
import urllib.parse

from keystoneauth1 import adapter
from pbr import version as pbr_version

from nova_usbclient import statuses


class ApiError(Exception):
    """nova-api refused a request or failed: its HTTP status, the message
    of its fault and the request id to look up in its logs.
    """

    code = None

    def __init__(self, message, code=None, request_id=None):
        self.message = message
        if code is not None:
            self.code = code
        self.request_id = request_id
        text = '%s (HTTP %s)' % (message, self.code)
        if request_id:
            text += ' (Request-ID: %s)' % request_id
        super().__init__(text)


class BadRequest(ApiError):
    """400: a malformed request or an unknown controller model."""
    code = 400


class Forbidden(ApiError):
    """403: policy does not allow the caller this."""
    code = 403


class NotFound(ApiError):
    """404: the server, device or controller is unknown to the caller."""
    code = 404


class Conflict(ApiError):
    """409: refused in the current state (device held elsewhere, no free
    port, server locked or running when it must be stopped...).
    """
    code = 409


class ServiceUnavailable(ApiError):
    """503: the server's compute host is down or did not answer."""
    code = 503


class DetachFailed(Exception):
    """A detach nova-api accepted (202) did not happen: the compute host's
    reason, as the server action's event records it.
    """

    def __init__(self, device_id, reason):
        self.device_id = device_id
        self.reason = reason
        super().__init__('USB device %s was not detached: %s' % (
            device_id, reason))


# The compute microversion whose instance action events carry ``details``,
# the reason of a failure.
EVENT_DETAILS_MICROVERSION = '2.84'

_ERRORS = {cls.code: cls for cls in (BadRequest, Forbidden, NotFound,
                                     Conflict, ServiceUnavailable)}


def _fault_message(response):
    """The message of a Nova fault (``{"conflictingRequest": {"message":
    ...}}``), else the body as text: a proxy's or the router's own page.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and len(body) == 1:
        fault = next(iter(body.values()))
        if isinstance(fault, dict) and fault.get('message'):
            return fault['message']
    text = response.text.strip()
    return text or response.reason or 'HTTP %s' % response.status_code


def error_from_response(response):
    """The :class:`ApiError` of a response with status 400 or above."""
    cls = _ERRORS.get(response.status_code, ApiError)
    return cls(_fault_message(response), code=response.status_code,
               request_id=response.headers.get('x-openstack-request-id'))


def _path(*segments):
    """A URL path of opaque segments: ids are quoted, never parsed."""
    return '/' + '/'.join(urllib.parse.quote(str(s), safe='')
                          for s in segments)


class Client(object):
    """nova-usb's REST API, for one keystoneauth session.

    ``adapter_options`` are keystoneauth Adapter options (``interface``,
    ``region_name``, ``endpoint_override``, ``auth``...) so that a CLI hands
    over how it was told to reach Nova.
    """

    def __init__(self, session, service_type='compute', **adapter_options):
        adapter_options.setdefault('client_name', 'nova-usb')
        adapter_options.setdefault(
            'client_version',
            pbr_version.VersionInfo('python-nova-usbclient').version_string())
        self._http = adapter.Adapter(session, service_type=service_type,
                                     **adapter_options)

    def _request(self, method, path, body=None, query=None,
                 microversion=None):
        return self._send(method, path, body, query, microversion)[0]

    def _send(self, method, path, body=None, query=None,
              microversion=None):
        """(body, request id) of a request that succeeded."""
        response = self._http.request(
            path, method, json=body, params=query, raise_exc=False,
            headers={'Accept': 'application/json'},
            microversion=microversion)
        if response.status_code >= 400:
            raise error_from_response(response)
        return (response.json() if response.content else None,
                response.headers.get('x-openstack-request-id'))

    # Devices of compute hosts (operators)

    def list_host_devices(self, host):
        """Every USB device of compute host ``host``, hubs included, with
        why each is or is not assignable and which server holds it.
        """
        return self._request('GET', _path('os-usb-devices'),
                             query={'host': host})['usb_devices']

    def get_host_device(self, device_id, host=None):
        """One device; without ``host`` nova-api asks every compute host."""
        query = {'host': host} if host is not None else None
        return self._request('GET', _path('os-usb-devices', device_id),
                             query=query)['usb_device']

    # Grants of devices to projects (operators)

    def list_device_grants(self, device_id):
        """The projects the device is granted to, each with its source
        (``device_spec``: its rule; ``grant``: stored through the API).
        """
        return self._request('GET', _path('os-usb-devices', device_id,
                                          'grants'))['usb_device_grants']

    def grant_device(self, device_id, project_id):
        return self._request('PUT', _path('os-usb-devices', device_id,
                                          'grants', project_id)
                             )['usb_device_grant']

    def revoke_device_grant(self, device_id, project_id):
        self._request('DELETE', _path('os-usb-devices', device_id, 'grants',
                                      project_id))

    # Devices of a server

    def list_server_devices(self, server_id):
        """The server's devices, each ``attached`` or ``missing``."""
        return self._request('GET', _path('servers', server_id,
                                          'os-usb-devices'))['usb_devices']

    def list_available_devices(self, server_id):
        """Devices of the server's host it may get: assignable and free."""
        return self._request('GET', _path('servers', server_id,
                                          'os-usb-devices'),
                             query={'available': 'true'})['usb_devices']

    def get_server_device(self, server_id, device_id):
        return self._request('GET', _path('servers', server_id,
                                          'os-usb-devices', device_id)
                             )['usb_device']

    def attach_device(self, server_id, device_id, controller_model=None):
        """Attach: live and persistent on a running or paused server,
        recorded for the next start on a stopped one.
        """
        body = {'id': device_id}
        if controller_model is not None:
            body['controller_model'] = controller_model
        return self._request('POST', _path('servers', server_id,
                                           'os-usb-devices'),
                             body={'usb_device': body})['usb_device']

    def detach_device(self, server_id, device_id):
        """Ask for a detach; nova-api answers once the compute host
        accepted it (202), and the device is ``detaching`` until it ends.
        Returns the request id: its server action tells the outcome
        (wait_for_detach).
        """
        return self._send('DELETE', _path('servers', server_id,
                                          'os-usb-devices', device_id))[1]

    def wait_for_detach(self, server_id, device_id, request_id,
                        interval=2, timeout=None):
        """Poll until the detach of ``request_id`` ended: return when the
        server has the device no more; raise DetachFailed with the compute
        host's reason when it still has it. Polls after 0.25 s, then twice
        as long each time up to ``interval`` seconds (most detaches take
        less than a second). ``timeout``: seconds, None to wait as long as
        it takes (a detach ends by itself: the compute host bounds its
        waits).
        """
        began = time.monotonic()
        pause = min(0.25, interval)
        while True:
            time.sleep(pause)
            pause = min(pause * 2, interval)
            try:
                device = self.get_server_device(server_id, device_id)
            except NotFound:
                return
            if device['status'] != statuses.DETACHING:
                raise DetachFailed(device_id, self._failure(
                    server_id, request_id))
            if timeout is not None and time.monotonic() - began > timeout:
                raise DetachFailed(device_id, 'still detaching after %d s'
                                   % timeout)

    def _failure(self, server_id, request_id):
        """Why the server action of ``request_id`` failed, as its event
        says (or what is known when it says nothing).
        """
        try:
            action = self._request(
                'GET', _path('servers', server_id, 'os-instance-actions',
                             request_id),
                microversion=EVENT_DETAILS_MICROVERSION)['instanceAction']
        except ApiError as e:
            return 'its server action %s cannot be read (%s)' % (
                request_id, e.message)
        for event in action.get('events') or ():
            if event.get('result') == 'Error':
                # Nova shows an event's details to admins by default
                # (os_compute_api:os-instance-actions:events:details).
                return event.get('details') or (
                    'the compute host could not detach it; "openstack '
                    'server event show %s %s" tells why, to those Nova\'s '
                    'policy shows event details' % (server_id, request_id))
        return ('the compute host did not end it (its nova-compute '
                'restarted?); see server action %s' % request_id)

    # Controllers of a server (cold: the server must be stopped to change)

    def list_controllers(self, server_id):
        return self._request('GET', _path('servers', server_id,
                                          'os-usb-controllers')
                             )['usb_controllers']

    def add_controller(self, server_id, model, ports=None):
        body = {'model': model}
        if ports is not None:
            body['ports'] = ports
        return self._request('POST', _path('servers', server_id,
                                           'os-usb-controllers'),
                             body={'usb_controller': body}
                             )['usb_controller']

    def remove_controller(self, server_id, index):
        self._request('DELETE', _path('servers', server_id,
                                      'os-usb-controllers', index))
