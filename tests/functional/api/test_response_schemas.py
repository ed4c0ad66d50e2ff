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

"""Every route's real answers against its response schema
(nova_usb.api.schemas), with jsonschema, as a member and as an admin (who
sees host details): devices attached and missing, a server on no host,
controllers added without a port count, grants.

The routes are those nova_usb.api.router serves; a route added there
without a case here fails the test.
"""

from unittest import mock

import jsonschema
from nova_usbclient import statuses
import oslo_messaging as messaging

from nova_usb.api import router
from nova_usb.api import schemas
from nova_usb import rpc as usb_rpc
from tests.fixtures import usb_database
from tests.functional.api import base
from tests.functional import test_attach_detach as helpers

DEVICES = '/os-usb-devices'
DEVICE = '/os-usb-devices/{id}'
GRANTS = '/os-usb-devices/{device_id}/grants'
GRANT = '/os-usb-devices/{device_id}/grants/{id}'
SERVER_DEVICES = '/servers/{server_id}/os-usb-devices'
SERVER_DEVICE = '/servers/{server_id}/os-usb-devices/{id}'
CONTROLLERS = '/servers/{server_id}/os-usb-controllers'
CONTROLLER = '/servers/{server_id}/os-usb-controllers/{id}'


class ResponseSchemaTestCase(helpers.Hotplug, base.UsbApiTestBase):

    def setUp(self):
        super().setUp()
        # nova-api keeps grants when it has a database for them.
        self.useFixture(usb_database.SQLiteUsbDatabase())
        self.checked = set()

    def check(self, route, method, status, response, schema):
        """``response`` has ``status`` and a body ``schema`` accepts."""
        self.assertEqual(status, response.status, response)
        jsonschema.validate(response.body, schema)
        self.checked.add((route, method))
        return response.body

    def test_every_route_answers_as_its_schema_says(self):
        server = self._stop_server(self._create_server(networks='none'))
        stopped = self._stop_server(self._create_server(networks='none'))
        sid = server['id']

        # The host's devices.
        for path in ('/os-usb-devices?host=compute1',):
            self.check(DEVICES, 'GET', 200,
                       self.request('admin', 'GET', path),
                       schemas.host_devices_response)
        for query in ('?host=compute1', ''):
            self.check(DEVICE, 'GET', 200, self.request(
                'admin', 'GET', '/os-usb-devices/%s%s' % (self.key1, query)),
                schemas.host_device_response)

        # Grants.
        project = self.api.project_id
        grant = '/os-usb-devices/%s/grants/%s' % (self.key2, project)
        self.check(GRANT, 'PUT', 200, self.request('admin', 'PUT', grant),
                   schemas.grant_response)
        listed = self.check(GRANTS, 'GET', 200, self.request(
            'admin', 'GET', '/os-usb-devices/%s/grants' % self.key2),
            schemas.grants_response)
        self.assertEqual(['device_spec', 'grant'], sorted(
            g['source'] for g in listed['usb_device_grants']))

        # A server's devices: available, attached, shown, as both roles.
        for role in ('member', 'admin'):
            self.check(SERVER_DEVICES, 'GET', 200, self.server_devices(
                server, role, '?available=true'),
                schemas.server_devices_response)
        # On a controller of their own: the guest has ports to spare.
        self.check(SERVER_DEVICES, 'POST', 200,
                   self.attach(server, self.key1,
                               controller_model='qemu-xhci'),
                   schemas.server_device_response)
        self.check(SERVER_DEVICES, 'POST', 200,
                   self.attach(server, self.key2, role='admin',
                               controller_model='qemu-xhci'),
                   schemas.server_device_response)
        server = self._start_server(server)
        for role in ('member', 'admin'):
            self.check(SERVER_DEVICES, 'GET', 200,
                       self.server_devices(server, role),
                       schemas.server_devices_response)
            self.check(SERVER_DEVICE, 'GET', 200, self.request(
                role, 'GET', '/servers/%s/os-usb-devices/%s' % (
                    sid, self.key1)), schemas.server_device_response)

        # A device gone from the host: missing, its details null.
        self.unplug('1-1.1')
        for role in ('member', 'admin'):
            shown = self.check(SERVER_DEVICE, 'GET', 200, self.request(
                role, 'GET', '/servers/%s/os-usb-devices/%s' % (
                    sid, self.key1)), schemas.server_device_response)
            self.assertEqual((statuses.MISSING, None),
                             (shown['usb_device']['status'],
                              shown['usb_device']['bus']))
            self.check(SERVER_DEVICES, 'GET', 200,
                       self.server_devices(server, role),
                       schemas.server_devices_response)

        self.check(SERVER_DEVICE, 'DELETE', 202,
                   self.detach(server, self.key2),
                   schemas.empty_response)
        self.check(GRANT, 'DELETE', 204,
                   self.request('admin', 'DELETE', grant),
                   schemas.empty_response)

        # Controllers of a stopped server. Without a port count, the
        # answer has the model's: the schema wants a number.
        for model in ('qemu-xhci', 'ehci'):
            added = self.check(CONTROLLERS, 'POST', 200,
                               self.add_controller(stopped, model),
                               schemas.controller_response)
            self.assertIsInstance(added['usb_controller']['ports'], int)
        self.check(CONTROLLERS, 'GET', 200, self.controllers(stopped),
                   schemas.controllers_response)
        self.check(CONTROLLER, 'DELETE', 204, self.remove_controller(
            stopped, added['usb_controller']['index']),
            schemas.empty_response)

        # A server on no host: what nova-api answers from the stored
        # requests.
        self.check(SERVER_DEVICES, 'POST', 200,
                   self.attach(stopped, self.device_id('1-2')),
                   schemas.server_device_response)
        offloaded = self._shelve_server(stopped)
        for role in ('member', 'admin'):
            listed = self.check(SERVER_DEVICES, 'GET', 200,
                                self.server_devices(offloaded, role),
                                schemas.server_devices_response)
            self.assertEqual([statuses.MISSING], [
                d['status'] for d in listed['usb_devices']])
        self.check(CONTROLLERS, 'GET', 200, self.controllers(offloaded),
                   schemas.controllers_response)

        served = {(path, method) for path, methods in router.ROUTES
                  for method in methods}
        self.assertEqual(served, self.checked)

    def test_answers_read_back_from_the_stored_requests(self):
        """When the compute host's reply is lost, nova-api answers from
        the stored requests what the host would have.
        """
        original = usb_rpc.UsbComputeAPI._client

        def client(api, context, host, timeout=None, method=None):
            prepared = original(api, context, host, timeout, method)

            class Lost(object):
                def call(self, ctxt, name, **kwargs):
                    prepared.call(ctxt, name, **kwargs)
                    raise messaging.MessagingTimeout('no reply')
            return Lost()

        stopped = self._stop_server(self._create_server(networks='none'))
        with mock.patch.object(usb_rpc.UsbComputeAPI, '_client', client):
            added = self.check(CONTROLLERS, 'POST', 200,
                               self.add_controller(stopped, 'ehci'),
                               schemas.controller_response)
            self.check(SERVER_DEVICES, 'POST', 200,
                       self.attach(stopped, self.key1),
                       schemas.server_device_response)
        self.assertEqual(6, added['usb_controller']['ports'])
