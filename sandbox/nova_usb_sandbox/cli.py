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


"""nova-usb-sandbox: a real Nova with nova-usb on this machine, one command.

    nova-usb-sandbox                  # the host's USB devices
    nova-usb-sandbox --demo-devices   # a recorded USB host (no USB needed)
    nova-usb-sandbox --dashboard      # and Horizon with nova-usb's plugin

It prints the API's address, the environment and clouds.yaml entry the
openstack and nova clients need, and which parts are real on this machine;
then a line "nova-usb-sandbox ready: URL". Ctrl-C (SIGINT) or SIGTERM stops
everything it started, and it exits.
"""

import argparse
import faulthandler
import os
import signal
import sys
import threading
import traceback

READY = 'nova-usb-sandbox ready:'
STOPPED = 'nova-usb-sandbox stopped'
# --database's default.
DATABASE_ENV = 'NOVA_USB_SANDBOX_DATABASE'


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='nova-usb-sandbox',
        description='Run Nova (API, conductor, scheduler, placement, compute '
                    'with nova-usb) in one process on this machine, with '
                    'embedded defaults, until Ctrl-C.')
    parser.add_argument(
        '--demo-devices', action='store_true',
        help='give the compute host a recorded USB host (a hub, two '
             'identical YubiKeys, a licence dongle, a keyboard) through '
             'umockdev, for machines without USB; guests are then '
             'simulated (fakelibvirt)')
    parser.add_argument(
        '--libvirt', choices=('auto', 'real', 'fake'), default='auto',
        help='real: Nova\'s libvirt driver on libvirtd at qemu:///system '
             '(started if needed, when root); fake: fakelibvirt; auto '
             '(default): real when possible')
    parser.add_argument(
        '--device-spec', action='append', default=[], metavar='JSON',
        help='a [usb] device_spec rule, e.g. \'{"vendor_id": "1050"}\'; '
             'repeat for more (default: none, so no real device is '
             'assignable; the demo devices have their own)')
    parser.add_argument(
        '--port', type=int, default=0,
        help='HTTP port on 127.0.0.1 (default: a free one)')
    parser.add_argument(
        '--host', default='sandbox',
        help='name of the compute host (default: %(default)s)')
    parser.add_argument(
        '--state-dir',
        help='keep databases, configuration and logs here (new or empty '
             'directory; default: a temporary one, removed at exit)')
    parser.add_argument(
        # From the environment too: a password on a command line is in
        # every user's ps.
        '--database', metavar='URL', default=os.environ.get(DATABASE_ENV),
        help='a MySQL or MariaDB server for Nova\'s, placement\'s and '
             'nova-usb\'s databases, e.g. '
             'mysql+pymysql://USER:PASSWORD@127.0.0.1/NAME: the sandbox '
             'creates NAME_api, NAME_cell0, NAME_cell1, NAME_placement and '
             'NAME_usb there (none may exist) and drops them when it stops, '
             'unless --state-dir is given (default: $%s, else SQLite files '
             'in the state directory)' % DATABASE_ENV)
    parser.add_argument(
        '--dashboard', action='store_true',
        help='also serve Horizon with nova-usb\'s plugin on 127.0.0.1 '
             '(needs nova-usb-dashboard, built from dashboard/); log in '
             'with the printed accounts')
    parser.add_argument('--debug', action='store_true',
                        help='log at DEBUG in nova.log')
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.demo_devices:
        from nova_usb_sandbox import demo
        try:
            demo.ensure_preloaded(argv)
        except demo.Unavailable as error:
            print('nova-usb-sandbox: --demo-devices needs umockdev: %s'
                  % error, file=sys.stderr)
            return 2

    # Nova's native threading mode, nova-compute's default, chosen before
    # anything imports eventlet (as nova/cmd/*.py do).
    os.environ['OS_NOVA_DISABLE_EVENTLET_PATCHING'] = '1'
    from nova import monkey_patch
    monkey_patch.patch(backend='threading')

    stop_requested = threading.Event()
    state = {'ready': False}

    def on_signal(signum, frame):
        stop_requested.set()
        if not state['ready']:
            # Interrupt the start-up where it is; stop() cleans up.
            raise KeyboardInterrupt()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # kill -USR1 PID prints where every thread is, for a sandbox that hangs.
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    from nova_usb_sandbox import launcher
    from nova_usb_sandbox import report

    def progress(message):
        print('  ... %s' % message, flush=True)

    sandbox = launcher.Sandbox(
        host=args.host, port=args.port, state_dir=args.state_dir,
        demo_devices=args.demo_devices, libvirt=args.libvirt,
        device_spec=args.device_spec, debug=args.debug,
        database=args.database, dashboard=args.dashboard)
    status = 0
    print('Starting nova-usb-sandbox (pid %d)' % os.getpid(), flush=True)
    try:
        sandbox.start(progress)
        print(report.banner(sandbox.settings, sandbox.facts))
        print('%s %s' % (READY, sandbox.settings.compute_url), flush=True)
        state['ready'] = True
        while not stop_requested.wait(1):
            pass
        print('Stopping...', flush=True)
    except KeyboardInterrupt:
        print('Interrupted, stopping...', flush=True)
    except launcher.StartError as error:
        print('nova-usb-sandbox cannot start: %s' % error, file=sys.stderr)
        status = 1
    except Exception as error:
        print('nova-usb-sandbox failed: %s: %s' % (
            type(error).__name__, error), file=sys.stderr)
        traceback.print_exc()
        status = 1
    finally:
        # A second Ctrl-C while stopping must not leave half of it behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sandbox.stop(keep_state=status != 0)
        if status and sandbox.settings is not None:
            print('Its log: %s' % sandbox.settings.log_file,
                  file=sys.stderr)
        print(STOPPED, flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # Nova's executors and oslo.messaging leave idle daemon and pool
    # threads behind; everything the sandbox started is stopped by now.
    os._exit(status)


if __name__ == '__main__':
    sys.exit(main())
