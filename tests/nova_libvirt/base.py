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

"""Nova's test classes, with nova-usb's driver on every compute host."""

import os
import sysconfig
import unittest

import fixtures

from nova_usb.virt import driver as usb_driver

NOVA_DRIVER = 'libvirt.LibvirtDriver'
USB_DRIVER = 'usb_libvirt.LibvirtUsbDriver'
# Nova's tests look for Nova's api-paste.ini in a source tree; the wheel
# installs it among its data files.
NOVA_API_PASTE_INI = os.path.join(
    sysconfig.get_path('data'), 'etc', 'nova', 'api-paste.ini')
NOVA_GET_GUEST_CONFIG = 'nova.virt.libvirt.LibvirtDriver._get_guest_config'
USB_GET_GUEST_CONFIG = (
    'nova_usb.virt.driver.LibvirtUsbDriver._get_guest_config')
# Seconds Service.stop() waits for the manager's cleanup (see setUp).
SHUTDOWN_TIMEOUT = 10


class UsbDriverMixin(object):
    """Turns a Nova libvirt functional test into one of nova-usb's driver.

    Nova's tests choose their driver with
    ``self.flags(compute_driver='libvirt.LibvirtDriver')`` (in
    ``ServersTestBase._setup_compute_service`` or their own ``setUp``); this
    gives them nova-usb's driver instead, and every compute service started
    is checked to really run it, so that a change in Nova's tests cannot
    make this suite quietly test Nova's driver alone.

    nova-api runs Nova's own paste pipeline: nova-usb's REST API is not
    what these tests are about (tests/functional covers it).

    Service.stop() waits for the manager's cleanup, up to
    SHUTDOWN_TIMEOUT seconds, as a real service does. Nova's tests set
    [DEFAULT] manager_shutdown_timeout to 0: the cleanup then runs on in a
    thread of its own after stop() returns, and it ends by shutting down
    the process's thread pools, which Nova's ServiceFixture makes harmless
    only while the fixture lives. Nova's driver cleans up at once; nova-usb's
    also stops its RPC server (tens of milliseconds), often enough to
    outlive the test, and then every later test of the process fails
    ("Cannot create the cell_worker thread pool executor because shutdown
    has been started"). Up to 20 seconds, the timeout is all for the
    cleanup: the managers still do not wait for tasks in progress.
    """

    def setUp(self):
        self.assertTrue(os.path.exists(NOVA_API_PASTE_INI),
                        'Nova is not installed with its data files: no %s'
                        % NOVA_API_PASTE_INI)
        # Before Nova's setUp starts nova-api; the ConfFixture clears
        # every override when the test ends.
        self.flags(api_paste_config=NOVA_API_PASTE_INI, group='wsgi')
        self.flags(manager_shutdown_timeout=SHUTDOWN_TIMEOUT)
        super().setUp()

    def flags(self, **kw):
        if kw.get('compute_driver') == NOVA_DRIVER:
            kw['compute_driver'] = USB_DRIVER
        super().flags(**kw)

    def useFixture(self, fixture):
        # The tests that record guest configs (test_machine_type,
        # test_device_bus_migration, test_stateless_firmware) put on Nova's
        # driver class a wrapper of the compute's bound _get_guest_config.
        # nova-usb's driver overrides that method and calls Nova's: the
        # wrapper would call itself until the stack overflows. Put on
        # nova-usb's class, it records whole guest configs, USB included.
        if (isinstance(fixture, fixtures.MonkeyPatch) and
                fixture.name == NOVA_GET_GUEST_CONFIG):
            fixture = fixtures.MonkeyPatch(USB_GET_GUEST_CONFIG,
                                           fixture.new_value)
        return super().useFixture(fixture)

    def start_service(self, name, *args, **kwargs):
        service = super().start_service(name, *args, **kwargs)
        if name == 'compute':
            self.assertIsInstance(service.driver,
                                  usb_driver.LibvirtUsbDriver)
            # init_host ran nova-usb's start-up (inventory, hotplug
            # watcher, claims), and the started service serves nova-usb's
            # RPC API (a start that fails never does: Nova calls no
            # cleanup_host then, and the test would leak the server).
            self.assertIsNotNone(service.driver.usb)
            self.assertIsNotNone(service.driver._usb_rpc_server)
        return service


def with_usb_driver(module, module_name):
    """The test classes of a Nova test module, as nova-usb driver tests.

    Returns {name: class} for the globals of module ``module_name``: each
    test class defined in ``module`` becomes a subclass of it and of
    UsbDriverMixin, of the same name, so test ids read
    ``tests.nova_libvirt.<module>.<class>.<test>`` and one test runs with
    ``python -m testtools.run`` and that id.
    """
    loader = unittest.TestLoader()
    classes = {}
    for name, cls in vars(module).items():
        if (isinstance(cls, type) and issubclass(cls, unittest.TestCase) and
                cls.__module__ == module.__name__ and
                loader.getTestCaseNames(cls)):
            classes[name] = type(name, (UsbDriverMixin, cls),
                                 {'__module__': module_name})
    return classes
