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


"""--demo-devices: a recorded USB host, for a machine without USB.

The sandbox's compute host then reads its USB devices from
``demo-devices.umockdev`` through the real libudev and pyudev, as it
would read a real host's: umockdev (https://github.com/martinpitt/umockdev)
gives libudev a fake /sys and a fake uevent socket. umockdev's preload
library must be in the process from its start, so the sandbox re-executes
itself under ``umockdev-wrapper`` first.

The recorded host: an xHCI root hub; a hub on port 1 with two identical
YubiKeys behind it, told apart only by their serial numbers; a licence
dongle without a serial number on port 2; a keyboard on port 3. The demo's
[usb] device_spec selects the YubiKeys and the dongle; the keyboard stays
unassignable ("not matched by [usb] device_spec") and hubs always are. The
rules grant the devices to no project, as an operator's rules would before
deciding who gets them: once nova-api is up, the sandbox grants them to
project ``demo`` through the API (nova_usb_sandbox.launcher).

The demo also has a flavor, ``yubikey``, that asks placement for one
YubiKey (``resources:CUSTOM_USB_1050_0407=1``): servers booted with it
get one of the two keys each. A third one is over the project's quota of
keys (``class:CUSTOM_USB_1050_0407``, two by default,
nova_usb_sandbox.keystone); with a higher limit, it finds no valid host.
"""

import os
import sys

from nova_usb_sandbox import umockdev

RECORDING = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         'demo-devices.umockdev')
DEVICE_SPEC = (
    '{"vendor_id": "1050", "product_id": "0407"}',
    '{"vendor_id": "0529", "product_id": "0001"}',
)
# A flavor that asks for a YubiKey of the recording.
FLAVOR = {'name': 'yubikey', 'flavorid': 'yubikey', 'memory_mb': 64,
          'vcpus': 1, 'root_gb': 1, 'ephemeral_gb': 0, 'swap': 0,
          'extra_specs': {'resources:CUSTOM_USB_1050_0407': '1'}}
WRAPPER = 'umockdev-wrapper'
# Set in the re-executed process: a second failure to preload is an error,
# not another re-exec.
_REEXEC_MARK = 'NOVA_USB_SANDBOX_UNDER_UMOCKDEV'


class Unavailable(Exception):
    """umockdev cannot be used here; the message says why."""


def ensure_preloaded(argv):
    """Re-execute this command under umockdev-wrapper unless it already is.

    The process keeps its pid (exec), so whoever started the sandbox still
    holds the process that serves it.
    """
    if umockdev.is_preloaded():
        return
    if os.environ.get(_REEXEC_MARK):
        raise Unavailable('%s did not preload %s' % (
            WRAPPER, umockdev.PRELOAD_LIBRARY))
    wrapper = _which(WRAPPER)
    if wrapper is None:
        raise Unavailable('%s is not installed (Debian: umockdev)' % WRAPPER)
    os.environ[_REEXEC_MARK] = '1'
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(wrapper, [WRAPPER, sys.executable, '-m', 'nova_usb_sandbox.cli']
             + list(argv))


def _which(name):
    for directory in os.environ.get('PATH', '').split(os.pathsep) + [
            '/usr/bin']:
        path = os.path.join(directory, name)
        if os.access(path, os.X_OK):
            return path
    return None


def load(harness):
    """A umockdev testbed holding the recording, for the whole process."""
    testbed = harness.useFixture(umockdev.Testbed())
    testbed.add_from_file(RECORDING)
    return testbed
