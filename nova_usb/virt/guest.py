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

"""The USB host devices of a server's libvirt domain.

The one module that reaches into Nova's libvirt driver (its ``_host`` and
its ``_detach_with_retry``): everything else in nova-usb asks a UsbGuest.
Host devices nova-usb attaches carry the alias ``ua-usb-<device id>``, so
that they are found again whatever bus and device number they have.
"""

import contextlib

from lxml import etree
from nova import exception as nova_exception
from oslo_log import log as logging

from nova_usb import exception
from nova_usb.virt import config as usb_config
from nova_usb.virt import ports

LOG = logging.getLogger(__name__)
ALIAS_PREFIX = 'ua-usb-'


def device_alias(device_id):
    """The libvirt alias of a device nova-usb attached."""
    return ALIAS_PREFIX + device_id


def make_hostdev(device, address=None):
    """The libvirt hostdev of a host device, found by vendor, product and
    its current bus/device (which tells identical tokens apart).

    startupPolicy 'optional': should the device vanish between Nova writing
    the domain and QEMU starting, the server still boots without it.
    """
    hostdev = usb_config.LibvirtConfigGuestUSBHostdev()
    hostdev.vendor_id = device.vendor_id
    hostdev.product_id = device.product_id
    hostdev.host_bus = device.bus
    hostdev.host_device = device.devnum
    hostdev.startup_policy = 'optional'
    hostdev.alias = device_alias(device.id)
    if address is not None:
        hostdev.address = usb_config.LibvirtConfigGuestUSBAddress(*address)
    return hostdev


def hostdevs_in(domain_xml):
    """``{device id: hostdev}`` of the host devices nova-usb attached, and
    the aliases of the USB host devices it did not attach.
    """
    ours, foreign = {}, []
    for element in etree.fromstring(domain_xml).iterfind(
            "devices/hostdev[@type='usb']"):
        alias = element.find('alias')
        name = alias.get('name') if alias is not None else None
        if name and name.startswith(ALIAS_PREFIX):
            hostdev = usb_config.LibvirtConfigGuestUSBHostdev()
            hostdev.parse_dom(element)
            ours[name[len(ALIAS_PREFIX):]] = hostdev
        else:
            foreign.append(name)
    return ours, foreign


@contextlib.contextmanager
def undoing(message, instance):
    """Run a compensating step; log (never raise) if it fails too, so that
    the original error reaches the caller.
    """
    try:
        yield
    except Exception as e:
        LOG.error('%s: %s', message, e, instance=instance)


def libvirt_message(error):
    get = getattr(error, 'get_error_message', None)
    return (get() if get else None) or str(error)


class UsbGuest(object):
    """One server's domain, as nova-usb changes it."""

    def __init__(self, driver, instance):
        """UsbDomainMissing when libvirt has no domain for the server."""
        self.instance = instance
        self._driver = driver
        try:
            self._guest = driver._host.get_guest(instance)
        except nova_exception.InstanceNotFound:
            raise exception.UsbDomainMissing()

    @classmethod
    def find(cls, driver, instance):
        """The server's domain, or None when libvirt has none."""
        try:
            return cls(driver, instance)
        except exception.UsbDomainMissing:
            return None

    def is_running(self):
        """Whether QEMU runs the domain (running or paused)."""
        return self._guest.is_active()

    def xml(self, persistent=False):
        return self._guest.get_xml_desc(dump_inactive=persistent)

    def hostdevs(self, persistent=False):
        """``{device id: hostdev}`` nova-usb attached, live or persistent."""
        return hostdevs_in(self.xml(persistent))[0]

    def foreign_hostdevs(self):
        """Aliases of the live USB host devices nova-usb did not attach."""
        return hostdevs_in(self.xml())[1]

    def hostdev(self, device_id, persistent=False):
        return self.hostdevs(persistent).get(device_id)

    def topology(self, persistent=False):
        return ports.topology_from_xml(self.xml(persistent))

    def attach(self, hostdev, live=True, persistent=True):
        try:
            self._guest.attach_device(hostdev, persistent=persistent,
                                      live=live)
        except Exception as e:
            raise exception.UsbHostRefused(action='attach',
                                           reason=libvirt_message(e))

    def detach(self, device_id):
        """Take the device out of the live and the persistent domain, and
        wait until the guest lets it go (Nova's detach with retries:
        [libvirt] device_detach_timeout × device_detach_attempts).

        On failure the domain is as it was: Nova drops the persistent
        definition first, so it is put back when the live device stayed.
        """
        persistent_before = self.hostdev(device_id, persistent=True)

        def get_device_conf(from_persistent_config=False):
            return self.hostdev(device_id, from_persistent_config)

        try:
            self._driver._detach_with_retry(
                self._guest, self.instance.uuid, get_device_conf,
                'USB device %s' % device_id)
        except Exception as e:
            if persistent_before and not self.hostdev(device_id, True):
                self.attach(persistent_before, live=False)
            raise exception.UsbHostRefused(action='detach',
                                           reason=libvirt_message(e))

    def detach_persistent(self, device_id):
        """Drop the device from the persistent domain only (a stopped
        server, or one whose live domain has it no more).
        """
        hostdev = self.hostdev(device_id, persistent=True)
        if hostdev is None:
            return
        try:
            self._guest.detach_device(hostdev, persistent=True, live=False)
        except Exception as e:
            raise exception.UsbHostRefused(action='detach',
                                           reason=libvirt_message(e))
