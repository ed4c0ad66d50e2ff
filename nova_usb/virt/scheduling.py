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

"""Servers the scheduler places for their USB devices.

The half of nova_usb.virt.manager.UsbManager that deals with placement:
what the host reports (nova_usb.virt.placement), the devices a server
is given because placement allocated them to it (its flavor asks for
them, e.g. ``resources:CUSTOM_USB_1050_0407=1``), and the release of a
server's devices with their reservations. The claims, the
inventory and the host's USB lock are the manager's.
"""

import contextlib

from nova import context as nova_context
from nova import exception as nova_exception
from oslo_log import log as logging

from nova_usb.db import requests as usb_requests
from nova_usb import exception
from nova_usb.virt import devspec
from nova_usb.virt import placement

LOG = logging.getLogger(__name__)


class PlacedDevices(object):
    """Mixed into UsbManager."""

    def update_provider_tree(self, provider_tree, nodename):
        """Report the host's assignable devices as children of
        ``nodename``, reserved while held through the API.
        """
        with self.lock:
            providers = {}
            for device in self.inventory.devices():
                spec = devspec.matching_spec(self.specs, device)
                if spec is not None:
                    providers[device.id] = (
                        placement.resource_class(spec, device),
                        placement.traits(spec))
            held = set(self.claims.snapshot())
            reserved = self.claims.reserved()
        placement.update_provider_tree(provider_tree, nodename, providers,
                                       held, reserved)

    @contextlib.contextmanager
    def allocated_devices(self, instance, allocations):
        """While Nova writes the domain of a server placed here (boot,
        rebuild, unshelve, evacuation, resize, cold migration and its
        revert), the server has exactly the USB devices placement
        allocated to it on this host: claimed, and recorded in its
        requests (``allocated``) in place of those allocated elsewhere
        before; the caller's save of the instance stores them.

        A device allocated but not usable here now (gone, no longer
        selected, held by another server) fails the operation: no server
        boots without a device its flavor asks for. When the operation
        fails, claims and requests are as they were.
        """
        # The devices of this host among the allocations, also before the
        # driver's first report since it started.
        device_ids = sorted(set(placement.allocated_device_ids(
            allocations, self.driver.provider_tree)) | {
            rp for rp in allocations or () if self.inventory.get(rp)})
        try:
            requests = self._load(instance)
        except exception.CorruptUsbRequests as e:
            if device_ids:
                raise nova_exception.ComputeResourcesUnavailable(
                    reason=e.format_message())
            yield
            return
        before = [r.id for r in requests.devices if r.allocated]
        if not device_ids and not before:
            yield
            return
        system_metadata = dict(instance.system_metadata)
        with self.lock:
            # Undone one by one on failure: other servers' claims may have
            # changed meanwhile.
            claimed = [d for d in device_ids
                       if self.claims.holder(d) != instance.uuid]
            released = [d for d in before if d not in device_ids and
                        self.claims.holder(d) == instance.uuid]
            allocated = []
            for device_id in device_ids:
                device = self.inventory.get(device_id)
                reason = self._refusal(device, instance.uuid)
                if reason:
                    self._undo_allocated(instance, claimed, [])
                    raise nova_exception.ComputeResourcesUnavailable(
                        reason='USB device %s allocated to the server is '
                        '%s' % (device_id, reason))
                self.claims.claim(device_id, instance.uuid, allocated=True)
                allocated.append(usb_requests.DeviceRequest(
                    id=device.id, vendor_id=device.vendor_id,
                    product_id=device.product_id, allocated=True))
            for device_id in released:
                self.claims.release(device_id, instance.uuid)
        wanted = dict(system_metadata)
        usb_requests.store(wanted, requests.with_allocated(allocated))
        instance.system_metadata = wanted
        try:
            yield
        except Exception:
            self._undo_allocated(instance, claimed, released)
            instance.system_metadata = system_metadata
            raise
        if device_ids:
            LOG.info('USB devices %s allocated by placement are the '
                     'server\'s', ', '.join(device_ids), instance=instance)

    def reverted_allocations(self, context, instance):
        """The allocations placement gave the server back on this host
        when its resize was reverted, when it may hold devices placement
        allocated (recorded after the resize, or still claimed here from
        before it); else None.
        """
        try:
            requests = self._load(instance)
        except exception.CorruptUsbRequests:
            return None
        with self.lock:
            held_here = self.claims.held_by(instance.uuid)
        if not held_here and not any(r.allocated for r in requests.devices):
            return None
        return self.driver.virtapi.reportclient.get_allocations_for_consumer(
            context, instance.uuid)

    def _undo_allocated(self, instance, claimed, released):
        with self.lock:
            for device_id in claimed:
                self.claims.release(device_id, instance.uuid)
            for device_id in released:
                if self.claims.holder(device_id) is None:
                    self.claims.claim(device_id, instance.uuid,
                                      allocated=True)

    def _reserve(self, context, device_id, instance_uuid):
        if self.providers is not None:
            self.providers.reserve(context, device_id, instance_uuid)

    def _unreserve(self, context, device_ids):
        if self.providers is not None:
            for device_id in device_ids:
                self.providers.unreserve(context, device_id)

    def release(self, instance, allocated_only=False):
        """Release the server's devices on this host (those placement
        allocated only, with ``allocated_only``: a resize reverted away
        from this host).
        """
        with self.lock:
            reserved = self.claims.reserved()
            released = [d for d in self.claims.held_by(instance.uuid)
                        if not (allocated_only and d in reserved)]
            for device_id in released:
                self.claims.release(device_id, instance.uuid)
        if released:
            LOG.info('Released USB devices %s', ', '.join(released),
                     instance=instance)
            self._unreserve(nova_context.get_admin_context(),
                            [d for d in released if d in reserved])
