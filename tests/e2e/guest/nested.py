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

"""Inside the nested host: its libvirtd, its USB in sysfs, its guests.

Domains here are diskless ``type='qemu'`` guests (no KVM inside): QEMU
attaches a USB device to its virtual controller whatever the guest runs,
and the HMP ``info usb`` of the guest's QEMU shows what it holds.
"""

import os
import re
import subprocess
import uuid

import libvirt
from lxml import etree

URI = 'qemu:///system'
HOST = 'nested-usb-host'
PREFIX = 'nova-usb-e2e-'
SYSFS_USB = '/sys/bus/usb/devices'
# QEMU's usb-storage product string, as the guest's QEMU reports it.
STICK_PRODUCT = 'QEMU USB HARDDRIVE'

DOMAIN = """<domain type='qemu'>
  <name>%(name)s</name>
  <uuid>%(uuid)s</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    %(devices)s
    <memballoon model='none'/>
  </devices>
</domain>"""


def connect():
    return libvirt.open(URI)


def usb_driver():
    """nova-usb's compute driver on this host's libvirtd, events running.

    Its USB manager is left to the caller (``UsbManager(driver, HOST)``):
    the driver's own init_host would read the servers of the host from
    Nova's database, which the driver-level tests do without.
    """
    import nova.conf
    from nova import objects
    from nova_usb import conf as nova_usb_conf  # noqa: F401 ([usb])
    from nova_usb.virt import driver

    objects.register_all()
    conf = nova.conf.CONF
    conf([], project='nova')
    conf.set_override('virt_type', 'qemu', group='libvirt')
    conf.set_override('device_spec', ['{"all_devices": true}'],
                      group='usb')
    usb_driver = driver.LibvirtUsbDriver(None)
    # No Nova service record here for the driver to enable or disable when
    # its libvirt connection comes up or goes down.
    usb_driver._host._conn_event_handler = None
    usb_driver._host.initialize()
    return usb_driver


def release_usb_driver(usb_driver):
    """Stop the domain events of a driver from usb_driver().

    Later suites in the same process run a Nova of their own on this
    libvirtd: the released driver would log each of its guests' events as
    one it was not waiting for. libvirt keeps a connection open while
    callbacks are registered on it, so they are deregistered one by one.
    """
    conn = usb_driver._host._wrapped_conn
    if conn is None:
        return
    for callback_id in list(getattr(conn, 'domainEventCallbackID', ())):
        conn.domainEventDeregisterAny(callback_id)


def stand_in_instance(vm_state, instances):
    """An Instance that is never saved (``save`` is a mock), registered in
    ``instances`` for the patched ``nova_usb.db.server_requests.read``.
    """
    from unittest import mock

    from nova import objects
    instance = objects.Instance(
        uuid=str(uuid.uuid4()), vm_state=vm_state, task_state=None,
        host=HOST, system_metadata={})
    instance.save = mock.Mock(name='save')
    instances[instance.uuid] = instance
    return instance


def domain_xml(name, devices=(), domain_uuid=None):
    return DOMAIN % {'name': PREFIX + name,
                     'uuid': domain_uuid or str(uuid.uuid4()),
                     'devices': '\n    '.join(devices)}


def xhci(ports=None, index=0):
    return ("<controller type='usb' index='%d' model='qemu-xhci'%s/>"
            % (index, " ports='%d'" % ports if ports else ''))


def remove_domains(conn):
    """Destroy and undefine every domain these tests made."""
    for dom in conn.listAllDomains():
        if not dom.name().startswith(PREFIX):
            continue
        if dom.isActive():
            dom.destroy()
        if dom.isPersistent():
            dom.undefine()


def info_usb(dom):
    """What the guest's QEMU holds: HMP ``info usb``, one dict a device."""
    result = subprocess.run(
        ['virsh', '-c', URI, 'qemu-monitor-command', '--hmp', dom.name(),
         'info usb'], check=True, capture_output=True, text=True)
    devices = []
    for line in result.stdout.splitlines():
        match = re.search(r'Port (\S+), Speed ([^,]+), Product (.*?)'
                          r'(?:, ID: (\S+))?$', line.strip())
        if match:
            devices.append({'port': match.group(1),
                            'speed': match.group(2),
                            'product': match.group(3),
                            'id': match.group(4)})
    return devices, result.stdout


def hostdevs(xml):
    """The USB hostdevs of a domain XML: (alias, bus, device) each."""
    root = etree.fromstring(xml)
    found = []
    for hostdev in root.iterfind('devices/hostdev[@type="usb"]'):
        address = hostdev.find('source/address')
        alias = hostdev.find('alias')
        found.append((alias.get('name') if alias is not None else None,
                      int(address.get('bus')) if address is not None
                      else None,
                      int(address.get('device')) if address is not None
                      else None))
    return found


def interface_drivers(device):
    """The host drivers bound to a USB device's interfaces (sysfs)."""
    name = os.path.basename(device.sys_path)
    drivers = set()
    for entry in os.listdir(SYSFS_USB):
        if not entry.startswith(name + ':'):
            continue
        link = os.path.join(SYSFS_USB, entry, 'driver')
        if os.path.islink(link):
            drivers.add(os.path.basename(os.readlink(link)))
    return drivers
