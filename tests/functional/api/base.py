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

"""What the REST API tests share: clients for each role, plain requests.

Roles, as Nova's functional tests stub keystone (the user named 'admin' is
an admin; roles come from X-Roles):

* admin: an admin of another project than the servers';
* member, reader: of the project that owns the servers;
* stranger: a member (and reader) of another project.

Servers are created by the harness's own admin client in the owning
project.
"""

import functools
import inspect
import threading
import time

import fixtures
from nova.tests.functional.api import client
from oslo_serialization import jsonutils

from nova_usb import policy as usb_policy
from nova_usb import rpc as usb_rpc
from tests.fixtures import usb_database
from tests.functional import base as usb_base
from tests.functional import test_attach_detach as helpers

OTHER_PROJECT = 'a0e1ad3bde2c4b8c9e0f1a2b3c4d5e6f'
ADMIN_PROJECT = 'b1f2e3d4c5b6a7980f1e2d3c4b5a6978'

# Every call nova-api makes to a compute host (nova_usb.rpc.UsbComputeAPI).
RPC_METHODS = ('list_host_devices', 'list_server_devices', 'attach_device',
               'detach_device', 'start_detach', 'list_controllers',
               'add_controller', 'remove_controller')


class Response(object):

    def __init__(self, response):
        self.status = response.status_code
        try:
            self.body = response.json() if response.content else None
        except ValueError:
            # Nova's router answers a path it has no route for in text.
            self.body = response.text

    @property
    def message(self):
        """The message of a Nova fault."""
        return next(iter(self.body.values()))['message']

    def __repr__(self):
        return '<%s %s>' % (self.status, self.body)


class UsbApiTestBase(helpers.UsbTestBase):

    def setUp(self):
        super().setUp()
        # Policy as deployed: oslo.policy's default. (Placement's fixture
        # turns the new defaults off for the whole test process.)
        self.flags(enforce_new_defaults=True, group='oslo_policy')
        usb_policy.reset()
        base_url = self.api_fixture.base_url
        self.clients = {
            'admin': client.TestOpenStackClient(
                'admin', base_url, project_id=ADMIN_PROJECT,
                roles=['reader', 'member', 'admin']),
            'member': client.TestOpenStackClient(
                'member', base_url, project_id=self.api.project_id,
                roles=['reader', 'member']),
            'reader': client.TestOpenStackClient(
                'reader', base_url, project_id=self.api.project_id,
                roles=['reader']),
            'stranger': client.TestOpenStackClient(
                'stranger', base_url, project_id=OTHER_PROJECT,
                roles=['reader', 'member']),
        }
        for api_client in self.clients.values():
            api_client.microversion = 'latest'

    def use_project_rules(self, licence_use='any'):
        """The tenancy tests' host: nova-api stores grants (on SQLite);
        YubiKey YK0001 is granted by its rule to this project, the other
        YubiKeys to none, the licence dongles to every project (for
        flavors only with ``licence_use='flavor'``); compute1 restarted
        with these rules.
        """
        self.useFixture(usb_database.SQLiteUsbDatabase())
        self.flags(device_spec=[
            '{"serial": "YK0001", "projects": ["%s"]}' % self.api.project_id,
            '{"vendor_id": "%s"}' % usb_base.YUBICO,
            '{"vendor_id": "%s", "projects": "*", "use": "%s"}' % (
                usb_base.LICENCE_VENDOR, licence_use)], group='usb')
        self.restart_compute_service('compute1')

    def request(self, role, method, path, body=None, raw=None):
        """One HTTP request as ``role``; ``raw`` sends bytes as they are."""
        data = raw if raw is not None else (
            None if body is None else jsonutils.dumps(body))
        return Response(self.clients[role].api_request(
            path, method=method, body=data, check_response_status=None))

    # The routes

    def host_devices(self, role='admin', host='compute1'):
        return self.request(role, 'GET', '/os-usb-devices?host=%s' % host)

    def server_devices(self, server, role='member', query=''):
        return self.request(role, 'GET', '/servers/%s/os-usb-devices%s' % (
            server['id'], query))

    def attach(self, server, device_id, role='member', **extra):
        body = {'usb_device': dict(id=device_id, **extra)}
        return self.request(role, 'POST', '/servers/%s/os-usb-devices' %
                            server['id'], body)

    def detach(self, server, device_id, role='member', wait=True):
        """DELETE the device; after a 202, wait (unless ``wait`` is
        false) until the compute host ended the detach it accepted.
        """
        response = self.request(role, 'DELETE',
                                '/servers/%s/os-usb-devices/%s' % (
                                    server['id'], device_id))
        if response.status == 202 and wait:
            self.wait_for_detach(device_id)
        return response

    def wait_for_detach(self, device_id, timeout=30):
        """Until no compute host is detaching the device (bounded)."""
        managers = [c.driver.usb for c in self.computes.values()]
        deadline = time.time() + timeout
        while any(device_id in m.detaching for m in managers):
            if time.time() > deadline:
                self.fail('USB device %s still detaching after %d s' % (
                    device_id, timeout))
            time.sleep(0.05)

    def controllers(self, server, role='member'):
        return self.request(role, 'GET', '/servers/%s/os-usb-controllers' %
                            server['id'])

    def add_controller(self, server, model, ports=None, role='member'):
        body = {'usb_controller': {'model': model}}
        if ports is not None:
            body['usb_controller']['ports'] = ports
        return self.request(role, 'POST', '/servers/%s/os-usb-controllers' %
                            server['id'], body)

    def remove_controller(self, server, index, role='member'):
        return self.request(role, 'DELETE',
                            '/servers/%s/os-usb-controllers/%s' % (
                                server['id'], index))

    # Watching nova-api

    def spy(self, owner, name):
        """Record each call of method ``name`` of class ``owner`` from now
        on, as the dict of its bound arguments; the method still runs.
        """
        real = getattr(owner, name)
        signature = inspect.signature(real)
        calls = []
        lock = threading.Lock()

        @functools.wraps(real)
        def recording(*args, **kwargs):
            with lock:
                calls.append(signature.bind(*args, **kwargs).arguments)
            return real(*args, **kwargs)

        self.useFixture(fixtures.MonkeyPatch(
            '%s.%s.%s' % (owner.__module__, owner.__name__, name),
            recording))
        return calls

    def spy_rpc(self):
        """``calls()``: the compute host calls nova-api made from now on,
        each as (method, host), sorted (hosts are asked in parallel).
        """
        recorded = [(name, self.spy(usb_rpc.UsbComputeAPI, name))
                    for name in RPC_METHODS]

        def calls():
            found = []
            for name, spied in recorded:
                for arguments in spied:
                    host = (arguments['host'] if 'host' in arguments
                            else arguments['instance'].host)
                    found.append((name, host))
            return sorted(found)
        return calls

    def assertStatus(self, status, response, fragment=None):
        self.assertEqual(status, response.status, response)
        if fragment is not None:
            self.assertIn(fragment, response.message)
        return response

    def actions(self, server, role='member'):
        """(action, [(event, result)]) of the server, oldest first."""
        found = []
        for action in reversed(self.request(
                role, 'GET', '/servers/%s/os-instance-actions' %
                server['id']).body['instanceActions']):
            detail = self.request(role, 'GET',
                                  '/servers/%s/os-instance-actions/%s' % (
                                      server['id'], action['request_id']))
            found.append((action['action'], [
                (e['event'], e['result'])
                for e in detail.body['instanceAction']['events']]))
        return found

    def usb_notifications(self):
        return [(n['event_type'], n['priority'], n['payload'])
                for n in self.notifier.versioned_notifications
                if n['event_type'].startswith('instance.usb_')]
