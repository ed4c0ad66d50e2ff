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

"""The cloud's run: deploy it (tests/cloud/deploy.py), run the scenarios
(tests/cloud/scenarios.py) with the real ``openstack`` CLI, stop every
process by its pid.

``tox -e cloud`` runs it with its USB node on the nested test host
(``python -m tests.e2e.run --cloud-only``: the e2e run builds and boots the
host, this module does the rest); ``python -m tests.cloud.run`` runs it
with this machine's node only (no USB), which needs no nested host.

Prints each step with its time since the start, each scenario's result
and, as its last line, ``cloud: N passed, N failed``. Everything of the
run is under .tox/cloud/run/: ``logs/`` (one log per service and per
one-off command), ``etc/`` (the configuration files as the services read
them), ``transcript.txt`` (every command and its output). The logs are kept
when anything failed; the state (databases aside: they are dropped at the
next run) is removed when everything passed.

    python -m tests.cloud.run                # node 1 only: deploy,
                                             # scenarios, stop
    python -m tests.cloud.run --keep-running  # then wait for Ctrl-C
    python -m tests.e2e.run --cloud-only      # both nodes (tox -e cloud)
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback

from tests.cloud import deploy
from tests.cloud import nested
from tests.cloud import scenarios

RUN_DIR = os.path.join(deploy.TOP, '.tox', 'cloud', 'run')


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m tests.cloud.run')
    parser.add_argument('--keep-running', action='store_true',
                        help='after the scenarios, keep the cloud running '
                             'until Ctrl-C (prints the openstack CLI '
                             'environment of its admin)')
    parser.add_argument('--scenario', action='append',
                        help='run only scenarios whose name contains this '
                             '(repeatable)')
    return parser.parse_args(argv)


def process_list(cloud):
    pids = ','.join(str(p.pid) for p in cloud.all_processes() if p.running())
    return subprocess.run(['ps', '-o', 'pid,rss,etime,args', '-p', pids],
                          capture_output=True, text=True).stdout


def run(usb_node=None, only=None, keep_running=False, benchmark=False):
    """Deploy, run the scenarios, stop; prints the lines of a run and
    returns (passed, failed).

    :param usb_node: a tests.cloud.nested.NestedNode whose guest is about
        to serve ssh, or None for a cloud of this machine's node only
    """
    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    cloud = deploy.Cloud(RUN_DIR, progress=lambda s: print(s, flush=True))
    results, problem = [], None
    try:
        cloud.deploy()
        if usb_node is not None:
            usb_node.log_dir = cloud.log_dir
            usb_node.wait_ready()
            cloud.add_usb_node(usb_node)
            cloud.up_seconds = time.monotonic() - cloud.began
        print('cloud: up after %.0f s; its processes:\n%s' % (
            cloud.up_seconds, process_list(cloud)), flush=True)
        if usb_node is not None:
            print('cloud: on the nested host:\n%s' % usb_node.run(
                'ps -o pid,rss,etime,args -p %d' % usb_node.compute_pid),
                flush=True)
        suite = scenarios.Scenarios(cloud, os.path.join(RUN_DIR,
                                                        'transcript.txt'))
        suite.prepare()
        results = suite.run(only)
        if benchmark and usb_node is not None:
            from benchmarks import cloud_attach
            print(cloud_attach.run(cloud, suite), flush=True)
        if keep_running:
            print(suite.environment_block(), flush=True)
            print('cloud: running until Ctrl-C', flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        problem = 'interrupted'
    except Exception:
        problem = traceback.format_exc()
    finally:
        # A second Ctrl-C or SIGTERM must not cut the stopping short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cloud.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    left = [p.name for p in cloud.all_processes() if p.running()]
    if left:
        problem = (problem or '') + 'still running: %s' % left

    passed = sum(1 for r in results if r.passed)
    failed = sum(1 for r in results if not r.passed)
    if problem and problem != 'interrupted':
        print('cloud: the run failed:\n%s' % problem)
    if problem and not (keep_running and problem == 'interrupted'):
        failed = failed or 1
    if usb_node is not None:
        print('cloud: the USB node\'s logs are in %s' % usb_node.share)
    if failed:
        print('cloud: logs kept in %s' % RUN_DIR)
    else:
        shutil.rmtree(cloud.state_dir, ignore_errors=True)
    return passed, failed


def with_usb_node(e2e_run_dir, host, benchmark=False):
    """The cloud with the nested host of an e2e run (a running
    tests.e2e.vm.NestedHost) as its USB node (tests/e2e/run.py --cloud);
    the nested host must have been prepared with
    tests.cloud.nested.prepare before it booted.
    """
    return run(nested.NestedNode(e2e_run_dir, host), benchmark=benchmark)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        print('cloud: needs root (MariaDB, libvirtd)')
        print('cloud: 0 passed, 1 failed')
        return 1
    passed, failed = run(only=args.scenario,
                         keep_running=args.keep_running)
    print('cloud: %d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
