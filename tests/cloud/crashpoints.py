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
"""

import os
import sys
import threading

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
    import importlib
    for step, (module_name, class_name, attribute) in STEPS.items():
        module = importlib.import_module(module_name)
        owner = getattr(module, class_name) if class_name else module
        setattr(owner, attribute,
                _wrap(directory, step, getattr(owner, attribute)))


def main():
    from nova.cmd import compute
    install(os.environ[CRASH_DIR])
    sys.argv[0] = 'nova-compute'
    return compute.main()


if __name__ == '__main__':
    sys.exit(main())
