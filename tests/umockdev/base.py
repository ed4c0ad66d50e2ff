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

"""Base test case: real libudev (through pyudev) on a umockdev testbed."""

import os

from oslotest import base
import pyudev

from nova_usb.virt import inventory
from nova_usb_sandbox import umockdev as testbed

HOST = 'test-host'
RECORDINGS = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                          'fixtures', 'usb')

NOT_PRELOADED = (
    'This process was not started with %s preloaded, so a umockdev testbed '
    'cannot redirect /sys and these tests would read the real host. Run '
    'them under umockdev-wrapper, e.g.: umockdev-wrapper python -m stestr '
    '--test-path ./tests/umockdev --top-dir ./ run' % testbed.PRELOAD_LIBRARY)


def recording(name):
    return os.path.join(RECORDINGS, name + '.umockdev')


class TestCase(base.BaseTestCase):
    """Each test gets an empty testbed and a udev context that sees it.

    Not being preloaded is a failure, not a skip: a skipped suite reads as
    a passing one, and these are the only tests on real libudev.
    """

    def setUp(self):
        super().setUp()
        if not testbed.is_preloaded():
            self.fail(NOT_PRELOADED)
        self.testbed = self.useFixture(testbed.Testbed())
        # A context made before the testbed existed could have looked at
        # the real /sys.
        self.context = pyudev.Context()

    def reboot(self):
        """The host comes back with an empty /sys and a new udev."""
        self.testbed.cleanUp()
        self.testbed.setUp()
        self.context = pyudev.Context()

    def scan(self, host=HOST):
        return inventory.HostUsbInventory(host, self.context).scan()

    def by_port(self, devices):
        by_port = {d.port_path: d for d in devices}
        self.assertEqual(len(devices), len(by_port),
                         'two devices share a port path')
        return by_port

    def udev_device(self, sys_path):
        return pyudev.Devices.from_sys_path(self.context, sys_path)
