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

"""nova-compute with crash points: the cloud's test harness, never deployed.

``python crashpoints.py ARGS`` is nova-compute (``nova.cmd.compute.main``,
what the ``nova-compute`` script runs) with ARGS, in this process, after
wrapping the steps of nova-usb's changes named in STEPS. The file is run
as a script, not imported from the ``tests`` package, so that the USB node
(which has nova-usb's virtualenv and no checkout) runs it from the share.

The cloud's scenarios arm steps by writing ``$NOVA_USB_CRASH_DIR/armed``:
one line per step, ``STEP WHEN SERVER`` (``guest.attach after <uuid>``).
A change of that server that reaches that step stops there, and its line
is appended to ``reached``; it waits until the process is killed (the
scenario sends SIGKILL once every armed line is in ``reached``, so several
changes are caught between their steps at once). Nothing else changes:
with no ``armed`` file every step runs as it is, and a restarted process
finds none (the scenario removes it before the SIGKILL).

``python crashpoints.py --fork-server DIR LOG ARGS`` is the same nova-
compute for a host where importing Nova is most of a start (the nested USB
node, under TCG: about 35 of the 40 seconds on a quiet day). The process
imports nova-compute's modules once, wraps the steps, and then, for each
line written to ``DIR/requests`` (a FIFO; ``DIR/ready`` exists once the
imports are done), forks a child that runs nova-compute's main with ARGS,
its output appended to LOG, and writes the child's pid to ``DIR/pid``. The
child is a new process in a new session, with nothing of a nova-compute but
its imported modules: it parses the configuration, connects to libvirt and
RabbitMQ, and rebuilds its state from the cloud like any start (the fork
server itself never does any of that). A SIGKILL to the child is a crash of
nova-compute; the fork server reaps it and serves the next start.
"""

import importlib
import os
import signal
import sys
import threading
import time

CRASH_DIR = 'NOVA_USB_CRASH_DIR'
ARMED = 'armed'
REACHED = 'reached'
# The steps of a change, as nova_usb.virt.manager calls them: the module,
# the class (None for a function of the module) and its attribute.
STEPS = {
    'guest.attach': ('nova_usb.virt.guest', 'UsbGuest', 'attach'),
    'guest.detach': ('nova_usb.virt.guest', 'UsbGuest', 'detach'),
    'guest.detach_persistent': ('nova_usb.virt.guest', 'UsbGuest',
                                'detach_persistent'),
    'save': ('nova_usb.db.server_requests', None, 'save'),
}
WHEN = ('before', 'after')

_parked = threading.Event()  # never set: a caught change waits for SIGKILL
_reached_lock = threading.Lock()


def line(step, when, server):
    """The ``armed``/``reached`` line of a crash point."""
    if step not in STEPS or when not in WHEN:
        raise ValueError('no crash point %s %s' % (step, when))
    return '%s %s %s' % (step, when, server)


def _armed(directory):
    try:
        with open(os.path.join(directory, ARMED)) as armed:
            return {entry.strip() for entry in armed if entry.strip()}
    except FileNotFoundError:
        return set()


def _server_of(step, args):
    """The server a step is called for: the instance of the UsbGuest
    (``self``), or the one of ``server_requests.save(context, instance,
    requests)``.
    """
    instance = args[1] if step == 'save' else args[0].instance
    return instance.uuid


def _maybe_park(directory, step, when, args):
    entry = '%s %s %s' % (step, when, _server_of(step, args))
    if entry not in _armed(directory):
        return
    with _reached_lock:
        with open(os.path.join(directory, REACHED), 'a') as reached:
            reached.write(entry + '\n')
    _parked.wait()


def _wrap(directory, step, original):
    def step_with_crash_points(*args, **kwargs):
        _maybe_park(directory, step, 'before', args)
        result = original(*args, **kwargs)
        _maybe_park(directory, step, 'after', args)
        return result
    step_with_crash_points.__name__ = original.__name__
    return step_with_crash_points


def install(directory):
    """Wrap every step of STEPS (the modules are imported now)."""
    for step, (module_name, class_name, attribute) in STEPS.items():
        module = importlib.import_module(module_name)
        owner = getattr(module, class_name) if class_name else module
        setattr(owner, attribute,
                _wrap(directory, step, getattr(owner, attribute)))


# What a nova-compute start imports, besides nova.cmd.compute: the driver
# (compute_driver = usb_libvirt.LibvirtUsbDriver) with Nova's libvirt
# driver, the compute manager, the RabbitMQ driver and os-vif's plugins
# (those of the virtualenv's os-vif entry points).
PRELOADED = (
    'nova.virt.usb_libvirt',
    'nova.compute.manager',
    'oslo_messaging._drivers.impl_rabbit',
    'vif_plug_noop.noop',
    'vif_plug_ovs.ovs',
)
REQUESTS = 'requests'
READY = 'ready'
PID = 'pid'


def _run_compute(argv):
    from nova.cmd import compute
    sys.argv = ['nova-compute'] + argv
    return compute.main()


def _forked_compute(log, argv, requests):
    """In the child: nova-compute's main, in a session of its own; never
    returns.
    """
    status = 1
    try:
        os.close(requests)  # the fork server's alone
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        status = _run_compute(argv) or 0
    except SystemExit as error:
        status = error.code if isinstance(error.code, int) else 1
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def fork_server(directory, log, argv):
    """Import once, then fork a nova-compute per line of DIR/requests."""
    began = time.monotonic()
    importlib.import_module('nova.cmd.compute')  # first, as in main()
    for name in PRELOADED:
        importlib.import_module(name)
    install(os.environ[CRASH_DIR])
    # A fork copies only the calling thread: nothing may run besides it.
    assert threading.active_count() == 1, threading.enumerate()
    print('fork server: %d modules imported in %.1f s' % (
        len(sys.modules), time.monotonic() - began), flush=True)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped
    path = os.path.join(directory, REQUESTS)
    if not os.path.exists(path):
        os.mkfifo(path)
    # Read and write: the FIFO then never reads as ended between writers.
    requests = os.open(path, os.O_RDWR)
    open(os.path.join(directory, READY), 'w').close()
    with os.fdopen(requests, 'rb', buffering=0) as lines:
        while lines.readline():
            pid = os.fork()
            if pid == 0:
                _forked_compute(log, argv, requests)
            with open(os.path.join(directory, PID + '.new'), 'w') as out:
                out.write('%d\n' % pid)
            os.rename(os.path.join(directory, PID + '.new'),
                      os.path.join(directory, PID))
            print('fork server: nova-compute pid %d' % pid, flush=True)


def main():
    if sys.argv[1:2] == ['--fork-server']:
        return fork_server(sys.argv[2], sys.argv[3], sys.argv[4:])
    # First, as the nova-compute script: it chooses Nova's threading mode
    # before anything else imports eventlet.
    importlib.import_module('nova.cmd.compute')
    install(os.environ[CRASH_DIR])
    return _run_compute(sys.argv[1:])


if __name__ == '__main__':
    sys.exit(main())
