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

"""Property-based fuzzing of every route, with valid changes among the
garbage.

One fixed seed draws a stream of at least MIN_REQUESTS requests against a
running and a stopped server: bodies drawn from the routes' own JSON
schemas (well-formed requests with arbitrary values), arbitrary JSON and
arbitrary bytes; arbitrary path segments and query strings; and valid
attaches, detaches, controller adds and removes, as members, readers,
admins and members of another project. Whatever a client sends, nova-api
answers with a client error or a success, never a 5xx.

The test keeps a model of what the successful changes did (devices and
controllers per server). Every few examples the stored requests and the
compute host's claims match the model, and at the end the API lists
exactly the model; once the model's changes are undone, each server's
domain, requests and claims are what they were before the first request.

Requests that reach a compute host cost far more than those refused by
nova-api itself, so valid changes are a few percent of the stream: the
suite stays within about a minute and a half on a slow machine.
"""

import collections
import json
import random
from urllib import parse

import hypothesis
from hypothesis import strategies as st
from nova_usbclient import controller_models

from nova_usb.api import schemas
from tests.functional.api import base

SEED = 20261130
# Hypothesis bounds the data one example draws.
EXAMPLES = 100
REQUESTS_PER_EXAMPLE = 21
# Stored requests and claims are checked after every few examples.
CHECK_EVERY = 5
MIN_REQUESTS = 2000
# At least this many of each change succeed (they are drawn; the seed
# fixes how many).
MIN_SUCCESSES = {'attach': 10, 'live attach': 2, 'detach': 5,
                 'controller add': 5, 'controller remove': 4}

SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES, deadline=None, database=None,
    # The servers keep their state from one example to the next, so a
    # failing example cannot be replayed or shrunk: each failure says
    # which request failed and why.
    phases=[hypothesis.Phase.generate], report_multiple_bugs=False,
    suppress_health_check=list(hypothesis.HealthCheck))

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() |
    st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=10), children, max_size=4),
    max_leaves=12)


def from_schema(schema, strings=None):
    """Values valid for ``schema``: the JSON schema subset nova-usb's
    request schemas use; with ``strings``, values of the right shape whose
    strings are drawn from it instead (valid for the schema or not).
    """
    if 'oneOf' in schema:
        return st.one_of([from_schema(s, strings) for s in schema['oneOf']])
    kind = schema['type']
    if kind == 'null':
        return st.none()
    if kind == 'string':
        if strings is not None:
            return strings
        if 'pattern' in schema:
            return st.from_regex(schema['pattern'], fullmatch=True)
        return st.text(min_size=schema.get('minLength', 0),
                       max_size=schema.get('maxLength', 300))
    if kind == 'integer':
        return st.integers(schema.get('minimum'), schema.get('maximum'))
    if kind == 'object':
        properties = schema['properties']
        required = schema.get('required', ())
        return st.fixed_dictionaries(
            {k: from_schema(properties[k], strings) for k in required},
            optional={k: from_schema(v, strings)
                      for k, v in properties.items() if k not in required})
    raise ValueError('no strategy for %s' % schema)


def bodies(schema):
    """What a client may send where ``schema`` applies, but for bodies
    valid for it: arbitrary bytes; arbitrary JSON; the schema's shape with
    arbitrary strings.
    """
    return st.one_of(st.binary(max_size=64), JSON.map(json.dumps),
                     from_schema(schema, st.text(max_size=40)).map(
                         json.dumps))


def queries(known=()):
    """Query strings with the ``known`` parameters and arbitrary ones."""
    names = st.text(min_size=1, max_size=8)
    if known:
        names = st.sampled_from(known) | names
    params = st.dictionaries(
        names,
        st.lists(st.text(max_size=40), min_size=1, max_size=2),
        min_size=1, max_size=3)
    return params.map(lambda p: parse.urlencode(p, doseq=True))


path_segments = st.text(min_size=1, max_size=40).map(
    lambda s: parse.quote(s, safe=''))

# What one request of the stream is, by weight: nova-api's own refusals
# are most of it; valid changes, which reach the compute host and cost ten
# times as much, a few percent. The mix, servers, roles and devices come
# from a Random seeded with SEED (Hypothesis favours its simplest choices,
# far from evenly); Hypothesis draws the values (edge cases), the same
# shape for every request, as it requires: what it draws must not depend
# on anything but what it drew before.
OPERATIONS = {
    'attach garbage': 500, 'add controller garbage': 150, 'query': 200,
    'show path': 80, 'delete path': 25,
    'attach': 16, 'detach': 12, 'add controller': 9, 'remove controller': 6,
}
SCHEMA_VALID = 1 / 40
ROLES = {'member': 6, 'admin': 2, 'reader': 1, 'stranger': 1}
MODELS = controller_models.ADDABLE_MODELS + ('usb4',)

OK = (200, 202, 204)
CLIENT_ERRORS = (400, 403, 404, 409)


# The values of one example: about as many of each kind as its requests
# use (drawing values is a good part of the cost of a request refused at
# once); a request whose kind has run out takes one again.
VALUES = st.fixed_dictionaries({
    name: st.lists(strategy, min_size=size, max_size=size)
    for name, strategy, size in (
        ('attach', bodies(schemas.attach), 9),
        # Valid for the schema with arbitrary values: these reach a
        # compute host (an unknown device id).
        ('valid attach', from_schema(schemas.attach).map(json.dumps), 1),
        ('add controller', bodies(schemas.add_controller), 3),
        ('valid add controller',
         from_schema(schemas.add_controller).map(json.dumps), 1),
        ('segment', path_segments, 3),
        ('query', queries(['host', 'available']), 4))})


def weighted(rng, weights):
    return rng.choices(list(weights), list(weights.values()))[0]


class FuzzTestCase(base.UsbApiTestBase):

    def test_no_request_breaks_the_api_or_changes_what_it_should_not(self):
        running = self._create_server(networks='none')
        stopped = self._stop_server(self._create_server(networks='none'))
        servers = {'running': running, 'stopped': stopped}
        before = {name: self.snapshot(server)
                  for name, server in servers.items()}
        # What the successful requests did.
        devices = {name: set() for name in servers}
        added = {name: set() for name in servers}
        assignable = [self.key1, self.key2] + self.dongles
        # Real devices no server can get: a hub, one device_spec leaves out.
        refused = [self.device_id('1-1'), self.device_id('1-3')]
        sent = []
        successes = dict.fromkeys(MIN_SUCCESSES, 0)

        def send(role, method, path, raw=None, allowed=OK + CLIENT_ERRORS):
            response = self.request(role, method, path, raw=raw)
            sent.append(response.status)
            self.assertIn(response.status, allowed, '%s %s as %s, body %r' % (
                method, path, role, raw))
            return response

        def prefix(name):
            return '/servers/%s' % servers[name]['id']

        def pick(rng, model, others, often=0.5):
            """One of ``model`` (what the requests so far made), if any, as
            ``often`` as that; else one of ``others``.
            """
            return rng.choice(sorted(model) if model and rng.random() < often
                              else list(others))

        def attached(name, response):
            """Take what an attach that was answered did into the model."""
            if response.status != 200:
                return
            device = response.body['usb_device']
            devices[name].add(device['id'])
            successes['attach'] += 1
            if name == 'running':
                successes['live attach'] += 1
            if device['controller_model'] is not None:
                # The compute host may have added a controller for it.
                added[name] = {
                    c['index'] for c in send(
                        'admin', 'GET', prefix(name) + '/os-usb-controllers'
                    ).body['usb_controllers'] if c['removable']}

        def controller_added(name, response):
            if response.status == 200:
                added[name].add(response.body['usb_controller']['index'])
                successes['controller add'] += 1

        def controller_removed(name, index, response):
            if response.status == 204:
                added[name].discard(index)
                successes['controller remove'] += 1

        def attach(rng, name):
            held = set().union(*devices.values())
            body = {'id': pick(rng, set(assignable) - held,
                               assignable + refused)}
            model = rng.choice([None] * 3 + ['ehci', 'usb4'])
            if model is not None:
                body['controller_model'] = model
            attached(name, send(weighted(rng, ROLES), 'POST',
                                prefix(name) + '/os-usb-devices',
                                json.dumps({'usb_device': body})))

        def detach(rng, name):
            device_id = pick(rng, devices[name], assignable + refused, 0.8)
            response = send(weighted(rng, ROLES), 'DELETE',
                            prefix(name) + '/os-usb-devices/' + device_id,
                            allowed=(202,) + CLIENT_ERRORS)
            if response.status == 202:
                self.wait_for_detach(device_id)
                devices[name].discard(device_id)
                successes['detach'] += 1

        def add_controller(rng, name):
            # Controllers change only while the server is stopped.
            name = rng.choice(['stopped'] * 3 + [name])
            body = {'model': rng.choice(MODELS)}
            ports = rng.choice([None] * 3 + [0, 1, 8, 16])
            if ports is not None:
                body['ports'] = ports
            controller_added(name, send(
                weighted(rng, ROLES), 'POST',
                prefix(name) + '/os-usb-controllers',
                json.dumps({'usb_controller': body})))

        def remove_controller(rng, name):
            name = rng.choice(['stopped'] * 3 + [name])
            index = pick(rng, added[name], range(6))
            controller_removed(name, index, send(
                weighted(rng, ROLES), 'DELETE',
                prefix(name) + '/os-usb-controllers/%d' % index,
                allowed=(204,) + CLIENT_ERRORS))

        def garbage(rng, value, operation, name):
            # One body in SCHEMA_VALID is valid for the route's schema.
            valid = 'valid ' if rng.random() < SCHEMA_VALID else ''
            if operation == 'attach garbage':
                attached(name, send('member', 'POST',
                                    prefix(name) + '/os-usb-devices',
                                    value(valid + 'attach')))
            elif operation == 'add controller garbage':
                controller_added(name, send(
                    'member', 'POST', prefix(name) + '/os-usb-controllers',
                    value(valid + 'add controller')))
            elif operation == 'delete path':
                collection = rng.choice(['/os-usb-devices/',
                                         '/os-usb-controllers/'])
                segment = value('segment')
                response = send('member', 'DELETE',
                                prefix(name) + collection + segment,
                                allowed=(204,) + CLIENT_ERRORS)
                if response.status == 204:
                    # Only a controller index can have been drawn.
                    self.assertEqual('/os-usb-controllers/', collection)
                    controller_removed(name, int(segment), response)
            elif operation == 'show path':
                segment = value('segment')
                if rng.random() < 0.5:
                    send('reader', 'GET',
                         prefix(name) + '/os-usb-devices/' + segment)
                else:
                    send('admin', 'GET', '/os-usb-devices/%s%s' % (
                        segment, rng.choice(['', '?host=compute1'])))
            elif operation == 'query':
                which = rng.randrange(4)
                if which == 0:
                    send('admin', 'GET', '/os-usb-devices?' +
                         value('query'))
                elif which == 1:
                    send('admin', 'GET', '/os-usb-devices/%s?%s' % (
                        self.key1, value('query')))
                elif which == 2:
                    send('member', 'GET', prefix(name) +
                         '/os-usb-devices?' + value('query'))
                else:
                    path = rng.choice(['/os-usb-devices/' + self.key1,
                                       '/os-usb-controllers'])
                    send('member', 'GET', prefix(name) + path + '?' +
                         value('query'))

        changes = {'attach': attach, 'detach': detach,
                   'add controller': add_controller,
                   'remove controller': remove_controller}

        def assertModel():
            """Stored requests and claims are what the answers said."""
            holders = {}
            for name, server in servers.items():
                stored = self.requests(server)
                self.assertEqual(devices[name], {d.id for d in
                                                 stored.devices}, name)
                self.assertEqual(added[name], {c.index for c in
                                               stored.controllers}, name)
                holders.update(dict.fromkeys(devices[name], server['id']))
            self.assertEqual(holders, self.computes[
                'compute1'].driver.usb.claims.snapshot())

        rng = random.Random(SEED)
        examples = []

        @SETTINGS
        @hypothesis.seed(SEED)
        @hypothesis.given(VALUES)
        def stream(pools):
            taken = collections.Counter()

            def value(kind):
                taken[kind] += 1
                return pools[kind][(taken[kind] - 1) % len(pools[kind])]

            for _ in range(REQUESTS_PER_EXAMPLE):
                operation = weighted(rng, OPERATIONS)
                name = rng.choice(sorted(servers))
                if operation in changes:
                    changes[operation](rng, name)
                else:
                    garbage(rng, value, operation, name)
            examples.append(len(sent))
            if len(examples) % CHECK_EVERY == 0:
                assertModel()

        stream()
        self.assertGreaterEqual(len(sent), MIN_REQUESTS)
        self.assertEqual([], [s for s in sent if s >= 500])
        for change, minimum in MIN_SUCCESSES.items():
            self.assertGreaterEqual(successes[change], minimum, change)

        # The API lists what the model says; undone, nothing is left.
        for name, server in servers.items():
            self.assertEqual(devices[name], {
                d['id'] for d in self.server_devices(
                    server, 'admin').body['usb_devices']})
            self.assertEqual(added[name], {
                c['index'] for c in self.controllers(
                    server, 'admin').body['usb_controllers']
                if c['removable']})
            for device_id in sorted(devices[name]):
                self.assertStatus(202, self.detach(server, device_id,
                                                   'admin'))
            for index in sorted(added[name]):
                self.assertStatus(204, self.remove_controller(
                    server, index, 'admin'))
        for name, server in servers.items():
            self.assertEqual(before[name], self.snapshot(server), name)
