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

"""Nova's own functional harness with the nova-usb driver.

Real nova-api, conductor, scheduler, placement and nova-compute in one
process (nova.tests.functional.libvirt.base), real oslo.messaging on its fake
driver, with:

* nova-usb's LibvirtUsbDriver as the compute driver;
* the host's USB devices read through real libudev from a umockdev testbed
  (so the suite runs under umockdev-wrapper, like tests/umockdev);
* fakelibvirt taught USB (tests/functional/fakelibvirt_usb.py): libvirtd
  cannot run under umockdev, so this is the one hand-made stand-in.
"""

import os

import fixtures
from nova import context as nova_context
from nova import objects
from nova.tests.functional.libvirt import base as libvirt_base

from nova_usb import conf  # noqa: F401  (registers the [usb] options)
from nova_usb.db import requests as usb_requests
from nova_usb import policy as usb_policy
from nova_usb import rpc as usb_rpc
from nova_usb.virt import usb_device
from nova_usb_sandbox import fakelibvirt_usb
from nova_usb_sandbox import umockdev as umockdev_testbed
from tests.fixtures import usbgen

API_PASTE_INI = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    'etc', 'nova', 'api-paste.ini')
YUBICO = '1050'
LICENCE_VENDOR = '0529'


def compute_host():
    """The USB devices every test compute host has.

    Two identical YubiKeys told apart by serial, licence dongles without
    serial (enough to fill a guest's ports), a keyboard that device_spec
    does not select, and the hubs.
    """
    host = usbgen.Host.with_buses(1)
    host.add(usbgen.hub('1-1', devnum=2))
    host.add(usbgen.Device('1-1.1', YUBICO, '0407', devnum=3,
                           serial='YK0001', manufacturer='Yubico',
                           product='YubiKey OTP+FIDO+CCID', speed='12',
                           interfaces=('03', '0b')))
    host.add(usbgen.Device('1-1.2', YUBICO, '0407', devnum=4,
                           serial='YK0002', manufacturer='Yubico',
                           product='YubiKey OTP+FIDO+CCID', speed='12',
                           interfaces=('03', '0b')))
    for n, port in enumerate(('1-2', '1-4', '1-5', '1-6')):
        host.add(usbgen.Device(port, LICENCE_VENDOR, '0001', devnum=5 + 2 * n,
                               manufacturer='SafeNet',
                               product='Sentinel HL', speed='12',
                               interfaces=('ff',)))
    host.add(usbgen.Device('1-3', '046d', 'c31c', devnum=6,
                           manufacturer='Logitech', product='Keyboard K120',
                           speed='1.5', interfaces=('03',)))
    return host


class UsbServersTestBase(libvirt_base.ServersTestBase):
    """A cloud of nova-usb compute hosts over one recorded USB host."""

    microversion = 'latest'
    ADMIN_API = True

    def setUp(self):
        if not umockdev_testbed.is_preloaded():
            self.fail('run under umockdev-wrapper: the compute hosts read '
                      'their USB devices from a umockdev testbed')
        self.usb_host = self.make_usb_host()
        self.testbed = self.useFixture(umockdev_testbed.Testbed())
        self.testbed.add_from_string(self.usb_host.recording())
        # Granted to every project: the tests attach as a member of the
        # harness's project (tests/functional/test_grants.py: grants).
        self.flags(device_spec=[
            '{"vendor_id": "%s", "projects": "*"}' % YUBICO,
            '{"vendor_id": "%s", "projects": "*"}' % LICENCE_VENDOR],
            group='usb')
        # fakelibvirt sends no device-removed events: Nova then checks the
        # domain after this timeout.
        self.flags(device_detach_timeout=1, device_detach_attempts=1,
                   group='libvirt')
        # nova-api runs with the project's own api-paste.ini, the one
        # operators install: Nova's pipeline with nova-usb's router.
        self.flags(api_paste_config=API_PASTE_INI, group='wsgi')
        # Each test has its own policy file (Nova's RealPolicyFixture).
        self.addCleanup(usb_policy.reset)
        super().setUp()
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.libvirt.Domain', fakelibvirt_usb.UsbDomain))
        self.ctxt = nova_context.get_admin_context()
        self.usb_api = usb_rpc.UsbComputeAPI()

    @staticmethod
    def make_usb_host():
        """The recorded USB devices of every compute host of the test."""
        return compute_host()

    def _setup_compute_service(self):
        self.flags(compute_driver='usb_libvirt.LibvirtUsbDriver')

    # Helpers

    def device_id(self, port_path, host='compute1'):
        """The nova-usb id of the recorded device at ``port_path``."""
        device = next(d for d in self.usb_host.devices
                      if d.port_path == port_path)
        return usb_device.device_id(
            host, device.vendor_id, device.product_id,
            serial=device.serial, port_path=device.port_path)

    def instance(self, server):
        return objects.Instance.get_by_uuid(
            self.ctxt, server['id'], expected_attrs=['system_metadata'])

    def requests(self, server):
        return usb_requests.load(self.instance(server).system_metadata)

    def guest(self, server, host='compute1'):
        return self.computes[host].driver._host.get_guest(
            self.instance(server))

    def live_xml(self, server, host='compute1'):
        return self.guest(server, host).get_xml_desc()

    def config_xml(self, server, host='compute1'):
        return self.guest(server, host).get_xml_desc(dump_inactive=True)

    def attach(self, server, device_id, controller_model=None):
        return self.usb_api.attach_device(
            self.ctxt, self.instance(server), device_id, controller_model)

    def detach(self, server, device_id):
        return self.usb_api.detach_device(self.ctxt, self.instance(server),
                                          device_id)

    def server_devices(self, server):
        return {d['id']: d['status'] for d in
                self.usb_api.list_server_devices(self.ctxt,
                                                 self.instance(server))}

    def host_device(self, device_id, host='compute1'):
        return next(d for d in self.usb_api.list_host_devices(
            self.ctxt, host) if d['id'] == device_id)
