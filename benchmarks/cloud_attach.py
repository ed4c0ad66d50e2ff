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

"""(e) A live attach + detach through the cloud's API, against the same
change made by nova-usb's driver on the same node, on the same server.

It runs in the multi-process cloud of tests/cloud, whose USB node is the
nested test host, on one running server of the scenarios and one stick:

* through the API: ``POST`` then ``DELETE
  /servers/{id}/os-usb-devices/{device}`` as the server's project member,
  with nova-usb's client library on a keystoneauth session (a keystone
  token, nova-api under uWSGI with keystonemiddleware, nova-usb's API,
  RabbitMQ, the ssh tunnel, nova-compute on the USB node, its driver,
  libvirt, QEMU; nova-conductor saves the server's requests in MariaDB,
  placement takes the stick into the server's allocation and out again).
  The attach returns when it is done; the detach answers 202 and is
  polled (every 0.1 s) until the server has the stick no more; the round
  ends there, or, when the stick is still in the server's allocation in
  placement then (nova-compute takes it out last), when placement shows it
  gone;
* by the driver: ``UsbManager.attach_device`` then ``detach_device`` in a
  process of its own on the same node, started once with the node's own
  configuration (nova-compute's nova.conf and nova-compute-node2.conf):
  the same server, read and saved through nova-conductor over RabbitMQ
  and the tunnel as nova-compute reads and saves it (Nova's objects with
  the conductor as their indirection API), its domain on the same
  libvirtd, the same stick, the same placement through Nova's report
  client with the node's credentials. The same lock, checks, port plan,
  libvirt calls (AFFECT_LIVE|AFFECT_CONFIG, the detach waiting for
  libvirt's event), placement writes and saves; the round is timed inside
  that process.

Both sides pass the stick into the same running guest and take it out
again; nothing is mocked. The rounds alternate, each side going first in
turn, after one untimed round of each; between two rounds the server is
checked to hold nothing, in its guest, its requests and its allocation.
Medians of attach + detach are compared as a ratio (API / driver): what
the API's path (keystone's token check, nova-api, its RPC call and cast
to nova-compute, the detach's background thread and the polling) adds to
the driver's work. The driver's process is not nova-compute: nova-compute
keeps running beside it (its claims do not see the driver's attach, which
is undone within the round, before the API side goes on).

Run it (root; builds and boots the nested host)::

    python -m tests.e2e.run --cloud-only --cloud-benchmark
"""

import json
import statistics
import sys
import time
import types

ROUNDS = 5
WARMUP = 1
# After the scenarios, NOVAUSB-B is free and the server "a-usb-cold" holds
# nothing (tests/cloud/crashes.py, round 2).
STICK_SERIAL = 'NOVAUSB-B'
SERVER = 'a-usb-cold'
TARGET = 1.3
# Lines of the driver's process that are its answers (anything else it
# prints is not).
ANSWER = 'cloud-attach-benchmark: '
POLL = 0.1
SETTLE_TIMEOUT = 120


def _session(user):
    from keystoneauth1 import loading
    from keystoneauth1 import session as ks_session

    auth = loading.get_plugin_loader('password').load_from_options(
        auth_url=user['OS_AUTH_URL'], username=user['OS_USERNAME'],
        password=user['OS_PASSWORD'], project_name=user['OS_PROJECT_NAME'],
        user_domain_name='Default', project_domain_name='Default')
    return ks_session.Session(auth=auth)


class DriverSide(object):
    """The driver's process on the USB node, one round per request."""

    def __init__(self, cloud, server, device_id):
        from tests.cloud import nested

        node = cloud.usb_node
        self.log = node.guest_path('logs', 'cloud-attach-benchmark.log')
        self.process = node.popen(
            'cd /opt/nova-usb-src && exec env PYTHONPATH=/opt/nova-usb-src '
            'OS_NOVA_DISABLE_EVENTLET_PATCHING=1 /opt/nova-usb/bin/python '
            '-m benchmarks.cloud_attach --driver-side --server %s --device '
            '%s --config-file %s --config-file %s 2>>%s' % (
                server, device_id, node.guest_path('etc', 'nova.conf'),
                node.guest_path('etc', 'nova-compute-%s.conf' % nested.HOST),
                self.log))
        try:
            self._answer()  # ready
        except Exception:
            self.close()
            raise

    def _answer(self):
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError('the driver\'s process on the USB node '
                                   'ended (exit %s); its log there: %s' % (
                                       self.process.wait(), self.log))
            if line.startswith(ANSWER):
                answer = json.loads(line[len(ANSWER):])
                if 'error' in answer:
                    raise RuntimeError('the driver\'s process on the USB '
                                       'node: %s' % answer['error'])
                return answer

    def round(self):
        """One attach + detach; its seconds, timed on the node."""
        self.process.stdin.write('round\n')
        return self._answer()['seconds']

    def close(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write('end\n')
                self.process.stdin.close()
                self.process.wait(120)
            except Exception:
                self.process.kill()
                self.process.wait()


def run(cloud, scenarios, rounds=ROUNDS, warmup=WARMUP):
    """Both sides in the cloud ``cloud`` (tests.cloud.deploy.Cloud) after
    its scenarios, interleaved; returns the report.
    """
    from nova_usbclient import api

    user = scenarios.users['member-a']
    client = api.Client(_session(user), region_name=user['OS_REGION_NAME'])
    admin = scenarios.users['admin']
    placement = _session(admin)
    endpoint = {'service_type': 'placement', 'interface': 'public',
                'region_name': admin['OS_REGION_NAME']}
    server = scenarios.servers[SERVER]
    stick = scenarios.stick(STICK_SERIAL)
    assert stick['Server ID'] is None and scenarios.held(server) == [], (
        stick, scenarios.held(server))
    stick = stick['ID']

    def allocated():
        """Whether the stick is in the server's allocation in placement."""
        answer = placement.get('/allocations/%s' % server,
                               endpoint_filter=endpoint)
        return stick in answer.json()['allocations']

    def through_api():
        began = time.monotonic()
        client.attach_device(server, stick)
        client.wait_for_detach(server, stick,
                               client.detach_device(server, stick),
                               interval=POLL)
        ended = time.monotonic()
        # nova-compute takes the stick out of the allocation after the
        # server's requests are saved without it: the change has ended
        # when both are done.
        while allocated():
            if time.monotonic() - ended > SETTLE_TIMEOUT:
                raise AssertionError('the stick is still in the '
                                     'allocation of %s' % server)
            time.sleep(POLL)
            ended = time.monotonic()
        return ended - began

    def holds_nothing(side):
        assert scenarios.sticks_in_guest(server) == 0, side
        assert scenarios.held(server) == [], side
        assert not allocated(), side
        assert scenarios.stick(STICK_SERIAL)['Server ID'] is None, side

    driver = DriverSide(cloud, server, stick)
    timings = {'api': [], 'driver': []}
    try:
        sides = [('api', through_api), ('driver', driver.round)]
        for number in range(warmup + rounds):
            # Each side goes first in turn.
            for name, side in (sides if number % 2 == 0 else sides[::-1]):
                seconds = side()
                holds_nothing(name)
                if number >= warmup:
                    timings[name].append(seconds)
    finally:
        driver.close()
    return report(timings['api'], timings['driver'])


def report(through_api, by_driver):
    api_median = statistics.median(through_api)
    driver_median = statistics.median(by_driver)
    ratio = api_median / driver_median
    lines = [
        'cloud attach + detach on the same server, %d rounds each, '
        'interleaved, medians:' % len(through_api),
        '  through the API (keystone, nova-api, RabbitMQ, nova-compute): '
        '%.2f s' % api_median,
        '  by the driver on the same node (UsbManager):              '
        '%.2f s' % driver_median,
        '  ratio API / driver: %.2fx (target <= %.1fx): %s' % (
            ratio, TARGET, 'met' if ratio <= TARGET else 'NOT met'),
    ]
    return '\n'.join(lines)


def _answer(**values):
    sys.stdout.write(ANSWER + json.dumps(values) + '\n')
    sys.stdout.flush()


def driver_side(server_uuid, device_id, config_files):
    """On the USB node: the driver's attach + detach of ``device_id`` on
    server ``server_uuid``, one round for each ``round`` line read; an
    answer line (ANSWER and JSON) when ready and after each round.
    """
    # The tests package first: it sets up Nova's threading mode before
    # anything imports Nova.
    from tests.e2e.guest import nested

    from nova.compute import manager as compute_manager
    from nova.conductor import rpcapi as conductor_rpcapi
    import nova.conf
    from nova import config
    from nova import context as nova_context
    import nova.db.main.api
    from nova import objects
    from nova.objects import base as objects_base
    from nova.scheduler.client import report as report_client

    from nova_usb import conf as nova_usb_conf  # noqa: F401 ([usb])
    from nova_usb.virt import driver as usb_driver
    from nova_usb.virt import manager as usb_manager

    # As nova-compute starts (nova.cmd.compute), less the service: its
    # configuration and RPC, Nova's objects through nova-conductor.
    config.parse_args(['cloud_attach'] + [
        arg for path in config_files for arg in ('--config-file', path)])
    objects.register_all()
    nova.db.main.api.DISABLE_DB_ACCESS = True
    objects_base.NovaObject.indirection_api = conductor_rpcapi.ConductorAPI()
    conf = nova.conf.CONF
    # The report client where nova-compute's manager gives it to the
    # driver (ComputeVirtAPI.reportclient).
    driver = usb_driver.LibvirtUsbDriver(compute_manager.ComputeVirtAPI(
        types.SimpleNamespace(
            reportclient=report_client.SchedulerReportClient())))
    # No service record in this process for the driver to enable or
    # disable when its libvirt connection comes up or goes down.
    driver._host._conn_event_handler = None
    driver._host.initialize()
    manager = usb_manager.UsbManager(driver, conf.host)
    if manager.providers is None:
        raise AssertionError('UsbManager has no placement client')
    manager.inventory.scan()
    if manager.inventory.get(device_id) is None:
        raise AssertionError('no device %s on %s' % (device_id, conf.host))
    context = nova_context.get_admin_context()
    instance = objects.Instance.get_by_uuid(context, server_uuid)
    _answer(ready=True)
    try:
        for line in sys.stdin:
            if line.strip() != 'round':
                break
            try:
                began = time.monotonic()
                manager.attach_device(context, instance, device_id)
                manager.detach_device(context, instance, device_id)
                seconds = time.monotonic() - began
            except Exception as e:
                _answer(error='%s: %s' % (type(e).__name__, e))
                raise
            _answer(seconds=seconds)
    finally:
        nested.release_usb_driver(driver)


if __name__ == '__main__':
    import argparse
    import os
    import traceback
    parser = argparse.ArgumentParser(prog='cloud_attach.py')
    parser.add_argument('--driver-side', action='store_true')
    parser.add_argument('--server')
    parser.add_argument('--device')
    parser.add_argument('--config-file', action='append', default=[])
    args = parser.parse_args(sys.argv[1:])
    if not (args.driver_side and args.server and args.device and
            args.config_file):
        parser.error('run it with: python -m tests.e2e.run --cloud-only '
                     '--cloud-benchmark')
    status = 1
    try:
        driver_side(args.server, args.device, args.config_file)
        status = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # Nova's libvirt event threads would keep the interpreter up.
        os._exit(status)
