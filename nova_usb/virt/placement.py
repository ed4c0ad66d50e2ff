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

"""A host's assignable USB devices as placement resource providers.

Every device that [usb] device_spec selects is a child resource provider
of the compute node, as Nova reports PCI devices and vGPU-capable GPUs:

* named ``<nodename>_usb_<device id>``, with the device id as its uuid
  (both stable and unique in the cloud), so an allocation names the device;
* one unit of the resource class of the first device_spec rule that
  selects the device (``resource_class``), by default
  ``CUSTOM_USB_<VENDOR>_<PRODUCT>``, e.g. ``CUSTOM_USB_1050_0407``, and the
  rule's ``traits``, normalised as Nova normalises those of
  ``[pci] device_spec``;
* ``reserved`` while a server holds the device through nova-usb's API, so
  that the scheduler never gives it to another server; a device placement
  allocated (the server's flavor asks for it) is used, not reserved.

A device a server holds keeps its provider while it is away from the host
or no longer selected (its allocation needs it); the others' providers go
when the device does.
"""

from nova.compute import pci_placement_translator
from oslo_log import log as logging

from nova_usb import exception

LOG = logging.getLogger(__name__)

# Placement's first microversion that allows reserved == total.
_VERSION = '1.26'
# Placement refuses a write when another one changed the provider since it
# was read (an allocation, Nova's own inventory update): read and try again.
_WRITE_ATTEMPTS = 4


def provider_name(nodename, device_id):
    return '%s_usb_%s' % (nodename, device_id)


def resource_class(spec, device):
    """The device's resource class: its rule's, or CUSTOM_USB_<VID>_<PID>."""
    if spec.resource_class:
        return pci_placement_translator.get_resource_class(
            spec.resource_class, device.vendor_id, device.product_id)
    return ('CUSTOM_USB_%s_%s' % (device.vendor_id,
                                  device.product_id)).upper()


def traits(spec):
    return pci_placement_translator.get_traits(
        ','.join(t.strip() for t in (spec.traits or '').split(',')))


def inventory(rc, reserved):
    return {rc: {'total': 1, 'reserved': 1 if reserved else 0,
                 'min_unit': 1, 'max_unit': 1, 'step_size': 1,
                 'allocation_ratio': 1.0}}


def _device_providers(provider_tree, nodename):
    """uuids of the USB device providers below ``nodename``."""
    return [uuid for uuid in provider_tree.get_provider_uuids(nodename)
            if provider_tree.data(uuid).name ==
            provider_name(nodename, uuid)]


def update_provider_tree(provider_tree, nodename, providers, held,
                         reserved):
    """Make the USB children of ``nodename`` in ``provider_tree`` (Nova's
    ProviderTree) match the host.

    ``providers``: {device id: (resource class, traits)} of the devices on
    the host that device_spec selects; ``held``: ids of the devices servers
    hold; ``reserved``: those of them held through the API.
    """
    for uuid in _device_providers(provider_tree, nodename):
        if uuid in providers:
            continue
        if uuid in held:
            # Away from the host or no longer selected, but a server holds
            # it: kept as it was, reserved as it is held.
            kept = provider_tree.data(uuid).inventory
            provider_tree.update_inventory(uuid, {
                rc: dict(record, reserved=1 if uuid in reserved else 0)
                for rc, record in kept.items()})
            continue
        provider_tree.remove(uuid)
    for device_id, (rc, device_traits) in sorted(providers.items()):
        if not provider_tree.exists(device_id):
            provider_tree.new_child(provider_name(nodename, device_id),
                                    nodename, uuid=device_id)
        provider_tree.update_inventory(
            device_id, inventory(rc, device_id in reserved))
        provider_tree.update_traits(device_id, device_traits)


def allocated_device_ids(allocations, provider_tree):
    """Ids of the USB devices among ``allocations`` (what spawn and
    finish_migration are given: {provider uuid: {'resources': ...}}), as
    the last provider tree this driver reported knows them.
    """
    if not allocations or provider_tree is None:
        return []
    device_ids = []
    for rp_uuid in allocations:
        if not provider_tree.exists(rp_uuid):
            continue
        data = provider_tree.data(rp_uuid)
        if data.parent_uuid is None:
            continue
        parent = provider_tree.data(data.parent_uuid)
        if data.name == provider_name(parent.name, rp_uuid):
            device_ids.append(rp_uuid)
    return sorted(device_ids)


class DeviceProviders(object):
    """Changes to a device's provider made between two reports of the
    resource tracker, so that placement knows at once.
    """

    def __init__(self, reportclient):
        self.client = reportclient

    def reserve(self, context, device_id, instance_uuid):
        """Reserve the device's provider for a server taking it through the
        API, then check that placement has not allocated it to another one
        meanwhile (a server being scheduled or spawned): in that order, so
        no allocation can come between the check and the reservation.

        Raises UsbDeviceInUse naming the consumer that has it, after taking
        the reservation back; UsbPlacementUnavailable when placement does
        not answer. A device without a provider (never reported) cannot
        have been allocated.
        """
        try:
            if not self._set_reserved(context, device_id, True):
                return
            consumers = self._consumers(context, device_id)
        except exception.UsbPlacementUnavailable:
            self.unreserve(context, device_id)
            raise
        others = sorted(c for c in consumers if c != instance_uuid)
        if others:
            self.unreserve(context, device_id)
            raise exception.UsbDeviceInUse(device_id=device_id,
                                           server_id=others[0])

    def unreserve(self, context, device_id):
        """Release the reservation; on failure the resource tracker's next
        report does.
        """
        try:
            self._set_reserved(context, device_id, False)
        except exception.UsbPlacementUnavailable as e:
            LOG.warning('%s The resource tracker releases the reservation '
                        'at its next report.', e.format_message())

    def _set_reserved(self, context, device_id, reserved):
        """False when placement has no provider for the device."""
        url = '/resource_providers/%s/inventories' % device_id
        for _ in range(_WRITE_ATTEMPTS):
            current = self._call(self.client.get, device_id, url)
            if current.status_code == 404:
                return False
            self._check(current, device_id)
            body = current.json()
            inventories = {rc: dict(record, reserved=1 if reserved else 0)
                           for rc, record in body['inventories'].items()}
            if inventories == body['inventories']:
                return True
            written = self._call(self.client.put, device_id, url, {
                'resource_provider_generation':
                    body['resource_provider_generation'],
                'inventories': inventories})
            if written.status_code != 409:
                self._check(written, device_id)
                return True
        raise exception.UsbPlacementUnavailable(
            device_id=device_id, reason='the provider kept changing')

    def _consumers(self, context, device_id):
        url = '/resource_providers/%s/allocations' % device_id
        answer = self._call(self.client.get, device_id, url)
        self._check(answer, device_id)
        return answer.json()['allocations']

    @staticmethod
    def _call(method, device_id, *args):
        try:
            return method(*args, version=_VERSION)
        except Exception as e:
            # keystoneauth's connection, endpoint and timeout errors
            raise exception.UsbPlacementUnavailable(device_id=device_id,
                                                    reason=str(e))

    @staticmethod
    def _check(answer, device_id):
        if not answer:
            raise exception.UsbPlacementUnavailable(
                device_id=device_id, reason='HTTP %d: %s' % (
                    answer.status_code, answer.text[:200]))
