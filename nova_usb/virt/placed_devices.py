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
server's devices. The claims, the
inventory and the host's USB lock are the manager's.
"""

import collections
import contextlib
import re

from nova.compute import vm_states
from nova import exception as nova_exception
from oslo_log import log as logging

from nova_usb.db import requests as usb_requests
from nova_usb import exception
from nova_usb import states
from nova_usb.virt import devspec
from nova_usb.virt import placement

LOG = logging.getLogger(__name__)


# A flavor's extra spec asking for resources, in its unnamed or a granular
# group: resources:CUSTOM_USB_1050_0407=1, resources1:..., resources_KEY:...
_RESOURCES_SPEC = re.compile(r'^resources[a-zA-Z0-9_-]*:([A-Z0-9_]+)$')


def _asked_by_flavor(flavor, allocations, device_ids, before, through_api):
    """Those of ``device_ids`` (USB devices in the server's allocation) that
    its flavor asks for.

    A server's allocation also holds the devices it has through the API
    (nova_usb.virt.placement): not the flavor's, even one that an attach
    in progress has just added. So a device the server holds through the
    API is left out, and of each resource class no more devices are kept
    than the flavor asks for, those it had from the flavor before first.
    """
    asked = collections.Counter()
    for key, value in (flavor.extra_specs or {}).items():
        match = _RESOURCES_SPEC.match(key)
        if match:
            try:
                asked[match.group(1)] += int(value)
            except ValueError:
                continue
    kept = []
    for device_id in sorted(device_ids, key=lambda d: (d not in before, d)):
        if device_id in through_api:
            continue
        for rc in allocations[device_id]['resources']:
            if asked[rc] > 0:
                asked[rc] -= 1
                kept.append(device_id)
                break
    return sorted(kept)


class PlacedDevices(object):
    """Mixed into UsbManager."""

    def update_provider_tree(self, provider_tree, nodename):
        """Report the host's assignable devices as children of
        ``nodename``.
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
        placement.update_provider_tree(provider_tree, nodename, providers,
                                       held)

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
        device_ids = _asked_by_flavor(
            instance.flavor, allocations, device_ids, before,
            through_api={r.id for r in requests.devices if not r.allocated})
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
                # One the server had here already (rebuild, a resize on
                # this host) must have the interfaces it had.
                reason = self._refusal(device, instance.uuid,
                                       requests.device(device_id))
                if reason:
                    self._undo_allocated(instance, claimed, [])
                    raise nova_exception.ComputeResourcesUnavailable(
                        reason='USB device %s allocated to the server is '
                        '%s' % (device_id, reason))
                self.claims.claim(device_id, instance.uuid, allocated=True)
                allocated.append(usb_requests.DeviceRequest(
                    id=device.id, vendor_id=device.vendor_id,
                    product_id=device.product_id, allocated=True,
                    interface_classes=device.interface_classes))
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

    def _allocate(self, context, device_id, instance_uuid):
        """Add the device to the server's allocation; a device plugged in
        since the resource tracker last reported gets its provider first.
        """
        if self.providers is None:
            return
        if self.providers.allocate(context, device_id, instance_uuid):
            return
        self._report_providers(context, device_id)
        if not self.providers.allocate(context, device_id, instance_uuid):
            raise exception.UsbPlacementUnavailable(
                device_id=device_id,
                reason='it has no resource provider in placement')

    def _report_providers(self, context, device_id):
        """Report the host's USB providers now, as the resource tracker
        does at its next run ([DEFAULT] update_resources_interval), from
        the provider tree Nova's report client keeps.
        """
        last = getattr(self.driver, 'provider_tree', None)
        if last is None:
            raise exception.UsbPlacementUnavailable(
                device_id=device_id,
                reason='the compute host has not reported to placement yet')
        client = self.providers.client
        try:
            for root in list(last.roots):
                tree = client.get_provider_tree_and_ensure_root(
                    context, root.uuid, name=root.name)
                self.update_provider_tree(tree, root.name)
                client.update_from_provider_tree(context, tree)
        except Exception as e:
            raise exception.UsbPlacementUnavailable(device_id=device_id,
                                                    reason=str(e))

    def _free(self, context, device_id, instance_uuid):
        if self.providers is not None:
            self.providers.free(context, device_id, instance_uuid)

    def count_in_placement(self, context, instance):
        """Put back into the server's allocation the devices it holds
        through the API on this host that are missing from it: after a
        Nova operation rewrote the allocation (a resize on this host gives
        the server's allocation to the migration, its revert takes the
        migration's back, an unshelve makes a new one, ``nova-manage
        placement heal_allocations --force`` rebuilds it from the flavor),
        and at nova-compute's start. A failure is logged: the operation
        itself is done.
        """
        if self.providers is None:
            return
        with self.lock:
            through_api = self.claims.through_api(instance.uuid)
        if not through_api:
            return
        try:
            added = self.providers.count(context, instance.uuid, through_api)
        except exception.NovaUsbException as e:
            LOG.error('USB devices %s of the server are not all counted in '
                      'its placement allocation: %s', ', '.join(through_api),
                      e.format_message(), instance=instance)
            return
        if added:
            LOG.info('USB devices %s the server holds are back in its '
                     'placement allocation', ', '.join(added),
                     instance=instance)

    def free_unrequested(self, context, instance, requests):
        """At nova-compute's start: take out of the server's allocation the
        USB devices it does not request (an attach killed between its
        allocation and its save, a detach killed between its save and its
        release). The stored requests win, as they do for the domain.
        Servers in the middle of a Nova operation are left to it; a build
        cut short by the process's end (nova_usb.states.build_cut_short)
        is not one.
        """
        if self.providers is None or instance.vm_state == vm_states.RESIZED:
            return
        if (instance.task_state is not None and
                not states.build_cut_short(instance)):
            return
        try:
            freed = self.providers.free_unrequested(
                context, instance.uuid, {r.id for r in requests.devices})
        except exception.NovaUsbException as e:
            LOG.error('USB devices the server does not request may still '
                      'be in its placement allocation: %s',
                      e.format_message(), instance=instance)
            return
        if freed:
            LOG.warning('USB devices %s were in the server\'s placement '
                        'allocation but are not among its requests '
                        '(nova-compute stopped during a change): taken out',
                        ', '.join(freed), instance=instance)

    def release(self, instance, allocated_only=False):
        """Release the server's devices on this host (those placement
        allocated only, with ``allocated_only``: a resize reverted away
        from this host). Placement needs nothing: Nova deletes or moves
        the allocations they are in.
        """
        with self.lock:
            through_api = self.claims.through_api(instance.uuid)
            released = [d for d in self.claims.held_by(instance.uuid)
                        if not (allocated_only and d in through_api)]
            for device_id in released:
                self.claims.release(device_id, instance.uuid)
        if released:
            LOG.info('Released USB devices %s', ', '.join(released),
                     instance=instance)
