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

"""A real placement for the benchmarks, in the benchmark's process.

Not a benchmark itself (tox does not run it): usb_manager.py and
usb_passthrough.py run nova-usb's driver with it, so that an attach and a
detach really change the server's allocation, as in nova-compute.

* placement is the openstack-placement WSGI application (``placement.
  deploy.loadapp``), with its own database in one SQLite file in
  write-ahead-log mode (its migrations run at start,
  ``sync_on_startup``), on its own ``noauth2``;
* it is served over HTTP on 127.0.0.1 (the standard library's wsgiref,
  a thread per request, as the sandbox serves it), on a port of its own,
  in a thread of this process: every call crosses a loopback socket and
  placement's whole WSGI stack, as in a cloud (less the web server in
  front: uWSGI or Apache there). Only openstack-placement is needed
  besides Nova: the nested test host has it for usb_passthrough.py;
* nova-usb calls it through Nova's own ``SchedulerReportClient`` on a
  keystoneauth session (an admin token, as the sandbox's nova-compute
  does with placement's noauth2), handed to the driver where Nova's
  compute manager hands it: ``virtapi.reportclient``
  (``nova.compute.manager.ComputeVirtAPI``);
* the compute node's resource provider (with the inventory of a small
  host) and the device providers are reported as nova-compute's resource
  tracker does (``update_from_provider_tree`` with the tree nova-usb's
  ``update_provider_tree`` made); each server has an allocation on the
  compute node, as Nova's scheduler leaves it.

What is left out: keystone (placement's noauth2 takes the token as it
is) and the web server in front of placement.
"""

import contextlib
import logging
import os
import socketserver
import sqlite3
import threading
import types
import uuid
from wsgiref import simple_server

# As nova_usb_sandbox.config.PLACEMENT_TOKEN: noauth2's admin.
TOKEN = 'admin'
# The compute node's inventory, and what each server's flavor takes.
NODE_INVENTORY = {
    'VCPU': {'total': 2048, 'allocation_ratio': 16.0},
    'MEMORY_MB': {'total': 4 * 1024 * 1024, 'allocation_ratio': 1.5},
    'DISK_GB': {'total': 100 * 1024, 'allocation_ratio': 1.0},
}
FLAVOR = {'VCPU': 1, 'MEMORY_MB': 64, 'DISK_GB': 1}
# Consumer generations, as nova-usb's DeviceProviders.
VERSION = '1.28'


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):

    daemon_threads = True


class _Handler(simple_server.WSGIRequestHandler):

    def log_message(self, format, *args):
        logging.getLogger(__name__).debug(format, *args)


class Placement(object):
    """placement on 127.0.0.1 with a SQLite file in ``directory``; Nova's
    report client on it (``client``).
    """

    def __init__(self, directory):
        from keystoneauth1 import adapter
        from keystoneauth1 import session
        from keystoneauth1 import token_endpoint
        from nova.scheduler.client import report
        from oslo_config import cfg
        from placement import conf as placement_conf
        from placement import db_api as placement_db_api
        from placement import deploy as placement_deploy

        database = os.path.join(directory, 'placement.sqlite')
        # Write-ahead log, as benchmarks/nova_db.py keeps Nova's.
        with contextlib.closing(sqlite3.connect(database)) as conn:
            conn.execute('PRAGMA journal_mode=WAL')
        path = os.path.join(directory, 'placement.conf')
        with open(path, 'w') as out:
            out.write('[api]\nauth_strategy = noauth2\n'
                      '[placement_database]\nconnection = sqlite:///%s\n'
                      'sync_on_startup = True\n' % database)
        conf = cfg.ConfigOpts()
        placement_conf.register_opts(conf)
        conf([], project='placement', default_config_files=[path])
        placement_db_api.configure(conf)
        app = placement_deploy.loadapp(conf)
        self.server = _Server(('127.0.0.1', 0), _Handler)
        self.server.set_app(app)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={'poll_interval': 0.2},
            name='placement-http', daemon=True)
        self._thread.start()
        self.client = report.SchedulerReportClient(adapter=adapter.Adapter(
            session.Session(auth=token_endpoint.Token(self.url, TOKEN)),
            service_type='placement', interface='public'))
        self.session = self.client._client

    def stop(self):
        self.server.shutdown()
        self._thread.join(5)
        self.server.server_close()

    def virtapi(self):
        """What the driver is given as its ``virtapi``: Nova's
        ComputeVirtAPI, whose ``reportclient`` is the compute manager's
        report client (here, the only part of a compute manager it reads).
        """
        from nova.compute import manager as compute_manager

        return compute_manager.ComputeVirtAPI(
            types.SimpleNamespace(reportclient=self.client))

    # What the resource tracker and the scheduler leave in placement

    def add_node(self, context, nodename):
        """The compute node's provider, with its inventory; its uuid."""
        node_uuid = str(uuid.uuid5(uuid.NAMESPACE_DNS, nodename))
        tree = self.client.get_provider_tree_and_ensure_root(
            context, node_uuid, name=nodename)
        tree.update_inventory(node_uuid, {
            rc: dict(values, reserved=0, min_unit=1, max_unit=values['total'],
                     step_size=1)
            for rc, values in NODE_INVENTORY.items()})
        self.client.update_from_provider_tree(context, tree)
        return node_uuid

    def report_devices(self, context, manager, nodename, node_uuid):
        """The host's USB device providers, as nova-compute reports them:
        the tree placement has, made to match by nova-usb's
        ``update_provider_tree``, written back.
        """
        tree = self.client.get_provider_tree_and_ensure_root(
            context, node_uuid, name=nodename)
        manager.update_provider_tree(tree, nodename)
        self.client.update_from_provider_tree(context, tree)
        # nova-usb reports missing providers again from the last tree the
        # driver reported, as the resource tracker leaves it.
        manager.driver.provider_tree = tree

    def allocate_servers(self, node_uuid, servers):
        """Each server's allocation as the scheduler leaves it: its flavor
        on the compute node, plus, for ``servers`` given as
        ``(instance, [(device id, resource class), ...])``, its devices.
        One request for all of them.
        """
        body = {}
        for instance, devices in servers:
            allocations = {node_uuid: {'resources': dict(FLAVOR)}}
            for device_id, rc in devices:
                allocations[device_id] = {'resources': {rc: 1}}
            body[instance.uuid] = {
                'allocations': allocations,
                'project_id': instance.project_id,
                'user_id': instance.user_id,
                'consumer_generation': None}
        self._check(self.session.post('/allocations', json=body,
                                      microversion=VERSION))

    def allocations(self, consumer):
        """{provider uuid: resources} of a consumer."""
        answer = self.session.get('/allocations/%s' % consumer,
                                  microversion=VERSION)
        self._check(answer)
        return {rp: a['resources']
                for rp, a in answer.json()['allocations'].items()}

    @staticmethod
    def _check(answer):
        if not answer:
            raise RuntimeError('placement answered HTTP %d: %s' % (
                answer.status_code, answer.text[:300]))
