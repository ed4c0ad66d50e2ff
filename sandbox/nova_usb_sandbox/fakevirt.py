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


"""The sandbox's simulated hypervisor: fakelibvirt taught USB.

Used when there is no real libvirtd, and always with recorded devices
(``--demo-devices``): libvirtd looks for a passed-through device in the
real /sys, where recorded devices do not exist, so a real guest could
never receive one. nova-compute then runs exactly as in Nova's own
functional tests (nova.tests.functional.libvirt.base.ServersTestBase):
Nova's real libvirt driver and nova-usb's driver on top of it, talking to
Nova's fakelibvirt, which nova_usb_sandbox.fakelibvirt_usb teaches USB
with libvirt 9.0's exact rules and messages. Servers are domains in memory;
no QEMU runs.
"""

import io

import fixtures
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import libvirt as fakelibvirt

from nova_usb_sandbox import fakelibvirt_usb

# The simulated host: 8 CPUs, 16 GiB of memory, 128 GiB of disk.
HOST_INFO = dict(cpu_nodes=1, cpu_sockets=1, cpu_cores=4, cpu_threads=2,
                 kB_mem=16 * 1024 * 1024)
LOCAL_GB = {'total': 128, 'used': 0, 'free': 128}


def setup(harness, hypervisor_hostname):
    """Patch Nova's libvirt driver onto fakelibvirt, as ServersTestBase."""
    use = harness.useFixture
    use(nova_fixtures.LibvirtImageBackendFixture())
    use(nova_fixtures.CGroupsFixture())
    use(nova_fixtures.LibvirtFixture())
    use(nova_fixtures.OSBrickFixture())
    use(fixtures.MockPatch(
        'nova.virt.libvirt.LibvirtDriver._create_image',
        return_value=(False, False)))
    use(fixtures.MockPatch(
        'nova.virt.libvirt.LibvirtDriver._get_local_gb_info',
        return_value=LOCAL_GB))
    use(fixtures.MockPatch(
        'nova.virt.libvirt.driver.libvirt_utils.is_valid_hostname',
        return_value=True))
    use(fixtures.MockPatch(
        'nova.virt.libvirt.driver.libvirt_utils.file_open',
        side_effect=lambda *a, **k: io.BytesIO(b'')))
    use(fixtures.MockPatch(
        'nova.privsep.utils.supports_direct_io', return_value=True))
    # The simulated guests' disks are not files. Nova's functional tests
    # never reach this: their requests carry no token, and Nova looks for
    # a server's disk files (on power on and hard reboot) only when one
    # does; the sandbox's requests do.
    use(fixtures.MockPatch(
        'nova.virt.libvirt.LibvirtDriver._get_instance_disk_info_from_config',
        return_value=[]))
    use(fixtures.MockPatch(
        'nova.virt.libvirt.host.Host.get_online_cpus',
        return_value=set(range(HOST_INFO['cpu_cores'] *
                               HOST_INFO['cpu_threads']))))
    connection = fakelibvirt.Connection(
        'qemu:///system', version=fakelibvirt.FAKE_LIBVIRT_VERSION,
        hv_version=fakelibvirt.FAKE_QEMU_VERSION,
        host_info=fakelibvirt.HostInfo(**HOST_INFO),
        hostname=hypervisor_hostname)
    use(fixtures.MockPatch('nova.virt.libvirt.host.Host.get_connection',
                           return_value=connection))
    use(fixtures.MonkeyPatch('nova.tests.fixtures.libvirt.Domain',
                             fakelibvirt_usb.UsbDomain))
    return connection
