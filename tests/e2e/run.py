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

"""Real USB passthrough end to end: ``tox -e e2e`` (needs root).

Builds the nested test host (tests/e2e/image.py), boots it under QEMU TCG
with the USB topology of tests/e2e/topology.json (tests/e2e/vm.py), lets
it run the suites of tests/e2e/guest/ on its real kernel USB, libvirtd and
nested guests, serves its requests to unplug, replug and move devices, and
prints each test's result, the timings and, as its last line,
``e2e: N passed, N failed``.

Everything of the run is under .tox/e2e/run/ (console, QEMU, guest and
libvirtd logs, transcripts); the disk images are deleted when the run
passed, kept when it failed. QEMU is stopped by its pid in every case.

    python -m tests.e2e.run                    # the driver suite
    python -m tests.e2e.run --suite tests.e2e.guest.test_driver
    python -m tests.e2e.run --benchmark        # benchmarks/usb_passthrough
    python -m tests.e2e.run --cloud            # the suites, then tox -e cloud
    python -m tests.e2e.run --cloud-only       # tox -e cloud alone

With ``--cloud``, once the suites are done the nested host stays up as the
USB node of the multi-process cloud of tests/cloud (one build and one boot
for both); the cloud's lines follow the suites', its last line is
``cloud: N passed, N failed``.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import time

from tests.cloud import nested as cloud_nested
from tests.cloud import run as cloud_run
from tests.e2e import image
from tests.e2e import vm

SUITES = ('tests.e2e.guest.test_driver',)
WORK_DIR = os.path.join(image.TOP, '.tox', 'e2e')
RUN_TIMEOUT = 40 * 60


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='python -m tests.e2e.run')
    parser.add_argument('--suite', action='append',
                        help='a test module, class or test of '
                             'tests/e2e/guest (repeatable; default: all)')
    parser.add_argument('--benchmark', action='store_true',
                        help='run benchmarks/usb_passthrough.py inside '
                             'instead of the tests')
    parser.add_argument('--cloud', action='store_true',
                        help='after the suites, run the multi-process '
                             'cloud (tests/cloud) with the nested host as '
                             'its USB node')
    parser.add_argument('--cloud-only', action='store_true',
                        help='the cloud without the suites (tox -e cloud)')
    parser.add_argument('--cloud-benchmark', action='store_true',
                        help='with the cloud, also run '
                             'benchmarks/cloud_attach.py')
    parser.add_argument('--timeout', type=int, default=RUN_TIMEOUT,
                        help='seconds the VM may run (default %(default)s)')
    return parser.parse_args(argv)


def summary(results, problem):
    passed = sum(1 for r in results if r['status'] == 'passed')
    failed = sum(1 for r in results if r['status'] == 'failed')
    if problem and not failed:
        failed = 1  # the run itself failed
    return passed, failed


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        print('e2e: needs root (mmdebstrap, chroot)')
        print('e2e: 0 passed, 1 failed')
        return 1
    run_dir = os.path.join(WORK_DIR, 'run')
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    timings = {}
    results, problem, host = [], None, None
    cloud = args.cloud or args.cloud_only or args.cloud_benchmark
    cloud_summary = None
    began = time.monotonic()

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print('e2e: building the nested test host (log: %s)'
              % os.path.join(run_dir, 'build.log'), flush=True)
        with open(os.path.join(run_dir, 'build.log'), 'w') as log:
            built = image.build(WORK_DIR, log)
        timings['image build'] = time.monotonic() - began
        host = vm.NestedHost(run_dir, *built)
        suites = [] if args.cloud_only else args.suite or list(SUITES)
        request = ({'mode': 'benchmark'} if args.benchmark else
                   {'mode': 'tests', 'suites': suites})
        if cloud:
            cloud_nested.prepare(run_dir)
        print('e2e: booting it (console: %s)'
              % os.path.join(run_dir, 'console.log'), flush=True)
        booted = time.monotonic()
        host.start(request)
        if cloud:
            cloud_summary = cloud_run.with_usb_node(
                run_dir, host, benchmark=args.cloud_benchmark)
            timings['nested host (boot, suites, cloud)'] = (
                time.monotonic() - booted)
        elif not host.wait(args.timeout):
            problem = 'the nested host still ran after %d s' % args.timeout
        else:
            timings['nested host (boot, suites, power off)'] = (
                time.monotonic() - booted)
    except KeyboardInterrupt:
        problem = 'interrupted'
    except (image.BuildError, vm.VMError, OSError) as error:
        problem = str(error)
    finally:
        if host is not None:
            host.stop()

    out_dir = os.path.join(run_dir, 'out')
    results_path = os.path.join(out_dir, 'results.json')
    if os.path.exists(results_path):
        with open(results_path) as source:
            results = json.load(source)
    status_path = os.path.join(out_dir, 'guest.status')
    if problem is None and not os.path.exists(status_path):
        problem = 'the guest ended without a status (see console.log)'
    elif problem is None and args.cloud_only:
        pass
    elif problem is None:
        with open(status_path) as source:
            status = source.read().strip()
        if args.benchmark and status != '0':
            problem = 'the benchmark exited with %s' % status
        elif not args.benchmark and not results:
            problem = 'the guest ran no test (see out/guest.log)'

    for result in results:
        print('e2e: %-7s %6.1f s  %s' % (
            result['status'], result['seconds'], result['test']))
    for result in results:
        if result['status'] == 'failed':
            print('\n=== %s\n%s' % (result['test'], result['detail']))
    if args.benchmark:
        report = os.path.join(out_dir, 'benchmark.txt')
        if os.path.exists(report):
            with open(report) as source:
                print(source.read())
    timings['total'] = time.monotonic() - began
    for name, seconds in timings.items():
        print('e2e: %s: %.0f s' % (name, seconds))
    if problem:
        print('e2e: %s' % problem)
    passed, failed = summary(results, problem)
    if cloud:
        if cloud_summary is None:
            cloud_summary = (0, 1)
            print('cloud: not run: %s' % (problem or 'the nested host '
                                          'failed'))
        failed += cloud_summary[1]
    if failed:
        print('e2e: logs kept in %s' % run_dir)
    else:
        for name in os.listdir(run_dir):
            if name.endswith('.img'):
                os.unlink(os.path.join(run_dir, name))
        shutil.rmtree(os.path.join(WORK_DIR, 'image'), ignore_errors=True)
    if not args.cloud_only:
        print('e2e: %d passed, %d failed' % summary(results, problem))
    if cloud:
        print('cloud: %d passed, %d failed' % cloud_summary)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
