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

"""What the client makes of answers the functional harness cannot give:
a proxy's error page, an empty body, a status nova-usb does not use.
"""

from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from oslotest import base
from requests_mock.contrib import fixture as rm_fixture

from nova_usbclient import api

ENDPOINT = 'http://nova.example:8774/v2.1'


class ClientErrorsTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.http = self.useFixture(rm_fixture.Fixture())
        session = ks_session.Session(
            auth=token_endpoint.Token(ENDPOINT, 'a-token'))
        self.client = api.Client(session)
        self.url = ENDPOINT + '/os-usb-devices?host=compute1'

    def refusal(self, **response):
        self.http.get(self.url, **response)
        return self.assertRaises(api.ApiError, self.client.list_host_devices,
                                 'compute1')

    def test_nova_fault(self):
        error = self.refusal(
            status_code=409, headers={'x-openstack-request-id': 'req-1'},
            json={'conflictingRequest': {'code': 409,
                                         'message': 'Held by server X.'}})
        self.assertIsInstance(error, api.Conflict)
        self.assertEqual(('Held by server X.', 409, 'req-1'),
                         (error.message, error.code, error.request_id))
        self.assertEqual('Held by server X. (HTTP 409) (Request-ID: req-1)',
                         str(error))

    def test_text_body_is_the_message(self):
        error = self.refusal(status_code=502, text='Bad gateway\n')
        self.assertIs(api.ApiError, type(error))
        self.assertEqual(('Bad gateway', 502, None),
                         (error.message, error.code, error.request_id))
        self.assertEqual('Bad gateway (HTTP 502)', str(error))

    def test_json_that_is_not_a_fault_is_shown_as_it_is(self):
        error = self.refusal(status_code=500, json={'error': 'oops'})
        self.assertEqual('{"error": "oops"}', error.message)

    def test_empty_body_gives_the_reason(self):
        error = self.refusal(status_code=503, reason='Service Unavailable')
        self.assertIsInstance(error, api.ServiceUnavailable)
        self.assertEqual('Service Unavailable', error.message)

    def test_requests_and_bodies(self):
        self.http.post(ENDPOINT + '/servers/s%201/os-usb-devices',
                       json={'usb_device': {'id': 'd'}})
        self.http.delete(ENDPOINT + '/servers/s/os-usb-controllers/3',
                         status_code=204)
        self.assertEqual({'id': 'd'}, self.client.attach_device('s 1', 'd'))
        self.assertEqual({'usb_device': {'id': 'd'}},
                         self.http.last_request.json())
        self.client.attach_device('s 1', 'd', 'qemu-xhci')
        self.assertEqual({'usb_device': {'id': 'd',
                                         'controller_model': 'qemu-xhci'}},
                         self.http.last_request.json())
        self.assertEqual('a-token',
                         self.http.last_request.headers['X-Auth-Token'])
        self.assertIn('nova-usb/',
                      self.http.last_request.headers['User-Agent'])
        self.assertIsNone(self.client.remove_controller('s', 3))
