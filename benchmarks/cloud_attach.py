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
change made by nova-usb's driver on the same node.

It runs in the multi-process cloud of tests/cloud, whose USB node is the
nested test host:

* through the API: ``POST`` then ``DELETE
  /servers/{id}/os-usb-devices/{device}`` as the server's project member,
  with nova-usb's client library on a keystoneauth session (a keystone
  token, nova-api under uWSGI with keystonemiddleware, nova-usb's API,
  RabbitMQ, the ssh tunnel, nova-compute on the USB node, its driver,
  libvirt, QEMU; nova-conductor saves the server's requests in MariaDB);
  each call returns when the change is done;
* by the driver: ``UsbManager.attach_device`` then ``detach_device`` in a
  process on the same node (the nested host), on the same libvirtd, with
  the same stick, into a diskless guest of its own, its server in Nova's
  database (SQLite with Nova's schema, benchmarks/nova_db.py): the same
  lock, checks, port plan, libvirt calls (AFFECT_LIVE|AFFECT_CONFIG, the
  detach waiting for libvirt's event) and save of the requests.

Both sides pass the stick into a running guest and take it out again;
nothing is mocked. The rounds of each side run one after the other in the
same run, and medians of attach + detach are compared as a ratio (API /
driver). Run it (root; builds and boots the nested host)::

    python -m tests.e2e.run --cloud-only --cloud-benchmark
"""

import json
import statistics
import sys
import time

ROUNDS = 5
# After the scenarios, NOVAUSB-B is free and the server "a-usb-cold" holds
# nothing (tests/cloud/crashes.py, round 2).
STICK_SERIAL = 'NOVAUSB-B'
SERVER = 'a-usb-cold'
TARGET = 1.3


def run(cloud, scenarios, rounds=ROUNDS):
    """Both sides in the cloud ``cloud`` (tests.cloud.deploy.Cloud) after
    its scenarios; returns the report.
    """
    from keystoneauth1 import loading
    from keystoneauth1 import session as ks_session

    from nova_usbclient import api

    user = scenarios.users['member-a']
    auth = loading.get_plugin_loader('password').load_from_options(
        auth_url=user['OS_AUTH_URL'], username=user['OS_USERNAME'],
        password=user['OS_PASSWORD'], project_name=user['OS_PROJECT_NAME'],
        user_domain_name='Default', project_domain_name='Default')
    client = api.Client(ks_session.Session(auth=auth),
                        region_name=user['OS_REGION_NAME'])
    server = scenarios.servers[SERVER]
    stick = scenarios.stick(STICK_SERIAL)
    assert stick['Server ID'] is None and scenarios.held(server) == [], (
        stick, scenarios.held(server))
    stick = stick['ID']
    through_api = []
    for _ in range(rounds):
        began = time.monotonic()
        client.attach_device(server, stick)
        # The detach ends after its 202: until the stick is gone.
        client.wait_for_detach(server, stick,
                               client.detach_device(server, stick),
                               interval=0.1)
        through_api.append(time.monotonic() - began)
        assert scenarios.sticks_in_guest(server) == 0
    output = cloud.usb_node.run(
        'cd /opt/nova-usb-src && PYTHONPATH=/opt/nova-usb-src '
        'OS_NOVA_DISABLE_EVENTLET_PATCHING=1 /opt/nova-usb/bin/python -m '
        'benchmarks.cloud_attach --driver-side --rounds %d' % rounds,
        timeout=1800)
    by_driver = json.loads(output.strip().splitlines()[-1])
    return report(through_api, by_driver)


def report(through_api, by_driver):
    api_median = statistics.median(through_api)
    driver_median = statistics.median(by_driver)
    ratio = api_median / driver_median
    lines = [
        'cloud attach + detach, %d rounds each, medians:' % len(
            through_api),
        '  through the API (keystone, nova-api, RabbitMQ, nova-compute): '
        '%.2f s' % api_median,
        '  by the driver on the same node (UsbManager):              '
        '%.2f s' % driver_median,
        '  ratio API / driver: %.2fx (target <= %.1fx): %s' % (
            ratio, TARGET, 'met' if ratio <= TARGET else 'NOT met'),
    ]
    return '\n'.join(lines)


def driver_side(rounds):
    """On the nested host: the driver's attach + detach, ``rounds`` times;
    prints the timings as one JSON line.
    """
    import shutil
    import tempfile

    # The tests package first: it sets up Nova's threading mode before
    # anything imports Nova.
    from tests.e2e.guest import nested

    from nova import context as nova_context

    from benchmarks import nova_db
    from nova_usb.virt import manager as usb_manager

    workdir = tempfile.mkdtemp(prefix='nova-usb-cloud-bench-')
    driver = nested.usb_driver()
    nova_db.use_sqlite(workdir)
    context = nova_context.get_admin_context()
    conn = nested.connect()
    manager = usb_manager.UsbManager(driver, nested.HOST)
    manager.watcher.start()
    instance = nova_db.create_server(context, nested.HOST, 'active')
    dom = conn.defineXML(nested.domain_xml('cloud-bench', [nested.xhci()],
                                           domain_uuid=instance.uuid))
    dom.create()
    try:
        stick = next(d for d in manager.inventory.devices()
                     if d.serial == STICK_SERIAL)
        timings = []
        for _ in range(rounds):
            began = time.monotonic()
            manager.attach_device(context, instance, stick.id)
            manager.detach_device(context, instance, stick.id)
            timings.append(time.monotonic() - began)
    finally:
        nested.remove_domains(conn)
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(timings), flush=True)


if __name__ == '__main__':
    import argparse
    import os
    parser = argparse.ArgumentParser(prog='cloud_attach.py')
    parser.add_argument('--driver-side', action='store_true')
    parser.add_argument('--rounds', type=int, default=ROUNDS)
    args = parser.parse_args(sys.argv[1:])
    if not args.driver_side:
        parser.error('run it with: python -m tests.e2e.run --cloud-only '
                     '--cloud-benchmark')
    driver_side(args.rounds)
    sys.stdout.flush()
    # Nova's libvirt event threads would keep the interpreter up.
    os._exit(0)
