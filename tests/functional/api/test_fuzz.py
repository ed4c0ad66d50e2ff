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

"""Property-based fuzzing of every request body, path and query string.

Bodies are drawn from the routes' own JSON schemas (well-formed requests
with arbitrary values), from arbitrary JSON and from arbitrary bytes; query
strings mix the known parameters with arbitrary ones. Whatever a client
sends, nova-api answers with a client error or a success, never a 5xx, and
the server's USB devices, controllers, domain and the host's claims stay as
they were.
"""

import json
from urllib import parse

import hypothesis
from hypothesis import strategies as st

from nova_usb.api import schemas
from nova_usb.virt import controllers
from tests.functional.api import base

SETTINGS = hypothesis.settings(
    max_examples=50, deadline=None, database=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() |
    st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=10), children, max_size=4),
    max_leaves=12)


def from_schema(schema):
    """Values valid for ``schema``: the JSON schema subset nova-usb's
    request schemas use.
    """
    if 'oneOf' in schema:
        return st.one_of([from_schema(s) for s in schema['oneOf']])
    kind = schema['type']
    if kind == 'null':
        return st.none()
    if kind == 'string':
        return st.text(min_size=schema.get('minLength', 0),
                       max_size=schema.get('maxLength', 300))
    if kind == 'integer':
        return st.integers(schema.get('minimum'), schema.get('maximum'))
    if kind == 'object':
        properties = schema['properties']
        required = schema.get('required', ())
        return st.fixed_dictionaries(
            {k: from_schema(properties[k]) for k in required},
            optional={k: from_schema(v) for k, v in properties.items()
                      if k not in required})
    raise ValueError('no strategy for %s' % schema)


def bodies(schema, *valid):
    """What a client may send where ``schema`` applies: valid for the
    schema with arbitrary values, or with ``valid`` values; arbitrary JSON;
    arbitrary bytes.
    """
    return st.one_of(
        from_schema(schema).map(json.dumps),
        *[v.map(json.dumps) for v in valid],
        JSON.map(json.dumps),
        st.binary(max_size=64),
    )


def models():
    return st.sampled_from(controllers.ADDABLE_MODELS + ('usb4',))


def queries(known=()):
    """Query strings with the ``known`` parameters and arbitrary ones."""
    names = st.text(min_size=1, max_size=8)
    if known:
        names = st.sampled_from(known) | names
    params = st.dictionaries(
        names,
        st.lists(st.text(max_size=40), min_size=1, max_size=2),
        max_size=3)
    return params.map(lambda p: parse.urlencode(p, doseq=True))


path_segments = st.text(min_size=1, max_size=40).map(
    lambda s: parse.quote(s, safe=''))

CLIENT_ERRORS = (400, 403, 404, 409)


class FuzzTestCase(base.UsbApiTestBase):

    def test_no_request_breaks_the_api_or_changes_the_server(self):
        server = self._create_server(networks='none')
        self.assertStatus(200, self.attach(server, self.key1))
        before = self.snapshot(server)
        prefix = '/servers/%s' % server['id']

        def check(response, allowed=(200,) + CLIENT_ERRORS):
            self.assertIn(response.status, allowed, response)

        # Real devices this server can never get: held by itself, a hub,
        # one that device_spec leaves out, one of another host.
        refused = st.sampled_from([
            self.key1, self.device_id('1-1'), self.device_id('1-3'),
            self.device_id('1-1.1', host='compute2')])

        @SETTINGS
        @hypothesis.given(bodies(schemas.attach, st.fixed_dictionaries({
            'usb_device': st.fixed_dictionaries(
                {'id': refused}, optional={'controller_model': models()})})))
        def attach(body):
            check(self.request('member', 'POST', prefix + '/os-usb-devices',
                               raw=body))

        @SETTINGS
        @hypothesis.given(bodies(schemas.add_controller, st.fixed_dictionaries(
            {'usb_controller': st.fixed_dictionaries(
                {'model': models()}, optional={'ports': st.integers(
                    0, 16)})})))
        def add_controller(body):
            check(self.request('member', 'POST',
                               prefix + '/os-usb-controllers', raw=body))

        @SETTINGS
        @hypothesis.given(path_segments, st.sampled_from(
            ['/os-usb-devices/', '/os-usb-controllers/']))
        def delete(segment, collection):
            check(self.request('member', 'DELETE',
                               prefix + collection + segment),
                  CLIENT_ERRORS)

        @SETTINGS
        @hypothesis.given(path_segments)
        def show(segment):
            check(self.request('reader', 'GET',
                               prefix + '/os-usb-devices/' + segment))
            check(self.request('admin', 'GET', '/os-usb-devices/%s?host=%s'
                               % (segment, 'compute1')))

        @SETTINGS
        @hypothesis.given(queries(['host']), queries(['available']),
                          queries())
        def query_strings(host_query, server_query, no_query):
            check(self.request('admin', 'GET',
                               '/os-usb-devices?' + host_query))
            check(self.request('admin', 'GET', '/os-usb-devices/%s?%s' % (
                self.key1, host_query)))
            check(self.request('member', 'GET',
                               prefix + '/os-usb-devices?' + server_query))
            for path in ('/os-usb-devices/' + self.key1,
                         '/os-usb-controllers'):
                check(self.request('member', 'GET',
                                   prefix + path + '?' + no_query))

        for fuzz in (attach, add_controller, delete, show, query_strings):
            fuzz()
        self.assertUnchanged(server, before)
