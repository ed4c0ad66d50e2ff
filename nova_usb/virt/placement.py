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
  ``CUSTOM_USB_<VENDOR>_<PRODUCT>``, e.g. ``CUSTOM_USB_1050_0407``
  (``CUSTOM_USB_API_<VENDOR>_<PRODUCT>`` for a rule with ``"use": "api"``,
  so that no flavor asking for the former gets them), and the rule's
  ``traits``, normalised as Nova normalises those of ``[pci] device_spec``;
* never reserved: a server holding a device is a consumer of its provider,
  whichever way it got it. A device placement allocated because the
  server's flavor asks for it is in the allocation Nova made; a device
  attached through nova-usb's API joins the server's allocation
  (DeviceProviders), as Nova adds the resources of a port with a resource
  request when it is attached. So placement's usages count every device a
  project holds, and neither way can take a device the other holds.

A device a server holds keeps its provider while it is away from the host
or no longer selected (its allocation needs it); the others' providers go
when the device does.
"""

import functools
import time

from keystoneauth1 import exceptions as ks_exceptions
from nova.compute import pci_placement_translator
from nova import exception as nova_exception
from nova import objects
from oslo_log import log as logging

from nova_usb import exception

LOG = logging.getLogger(__name__)

# Consumer generations (POST /allocations of several consumers at once).
_VERSION = '1.28'
# Placement refuses a write when another one changed the consumer since it
# was read: read and try again.
_WRITE_ATTEMPTS = 4
# The pauses (seconds) before a GET that could not connect is tried again.
_READ_PAUSES = (0.5, 2)


def provider_name(nodename, device_id):
    return '%s_usb_%s' % (nodename, device_id)


def resource_class(spec, device):
    """The device's resource class: its rule's, or CUSTOM_USB_<VID>_<PID>
    (CUSTOM_USB_API_<VID>_<PID> for a device its rule keeps for the API:
    a flavor asking for CUSTOM_USB_<VID>_<PID> must not get it).
    """
    if spec.resource_class:
        return pci_placement_translator.get_resource_class(
            spec.resource_class, device.vendor_id, device.product_id)
    kind = 'USB_API' if not spec.for_flavors() else 'USB'
    return ('CUSTOM_%s_%s_%s' % (kind, device.vendor_id,
                                 device.product_id)).upper()


def traits(spec):
    return pci_placement_translator.get_traits(
        ','.join(t.strip() for t in (spec.traits or '').split(',')))


def inventory(rc):
    return {rc: {'total': 1, 'reserved': 0, 'min_unit': 1, 'max_unit': 1,
                 'step_size': 1, 'allocation_ratio': 1.0}}


def _device_providers(provider_tree, nodename):
    """uuids of the USB device providers below ``nodename``."""
    return [uuid for uuid in provider_tree.get_provider_uuids(nodename)
            if provider_tree.data(uuid).name ==
            provider_name(nodename, uuid)]


def update_provider_tree(provider_tree, nodename, providers, held):
    """Make the USB children of ``nodename`` in ``provider_tree`` (Nova's
    ProviderTree) match the host.

    ``providers``: {device id: (resource class, traits)} of the devices on
    the host that device_spec selects; ``held``: ids of the devices servers
    hold.
    """
    for uuid in _device_providers(provider_tree, nodename):
        if uuid in providers:
            continue
        if uuid in held:
            # Away from the host or no longer selected, but a server holds
            # it: kept as it was, for its allocation.
            continue
        provider_tree.remove(uuid)
    for device_id, (rc, device_traits) in sorted(providers.items()):
        if not provider_tree.exists(device_id):
            provider_tree.new_child(provider_name(nodename, device_id),
                                    nodename, uuid=device_id)
        provider_tree.update_inventory(device_id, inventory(rc))
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
    """A server's allocation, as devices join and leave it through the API.

    Nova's report client does the consumer-generation work: it reads the
    allocation, adds or removes the device's unit and writes it back,
    again when another writer changed the consumer meanwhile.
    """

    def __init__(self, reportclient):
        self.client = reportclient

    def allocate(self, context, device_id, instance_uuid):
        """Add the device to the server's allocation (nothing when it is
        there already).

        Returns False when placement has no provider for the device (not
        reported yet: nothing can hold it in placement either; the next
        check of the server's allocations adds it, see ``count``). Raises
        UsbDeviceInUse naming the consumer that has the device (a server
        being scheduled or spawned, or one that holds it);
        UsbPlacementUnavailable when placement does not answer or refuses
        otherwise. On any failure the allocation is as it was.
        """
        rc = self._resource_class(context, device_id)
        if rc is None:
            return False
        try:
            current = self.client.get_allocs_for_consumer(context,
                                                          instance_uuid)
            if device_id in current.get('allocations', {}):
                return True
            self.client.add_resources_to_instance_allocation(
                context, instance_uuid, {device_id: {'resources': {rc: 1}}})
        except nova_exception.AllocationUpdateFailed as e:
            others = [c for c in self._consumers(context, device_id)
                      if c != instance_uuid]
            if others:
                raise exception.UsbDeviceInUse(device_id=device_id,
                                               server_id=sorted(others)[0])
            raise exception.UsbPlacementUnavailable(device_id=device_id,
                                                    reason=str(e))
        except (nova_exception.ConsumerAllocationRetrievalFailed,
                ks_exceptions.ClientException) as e:
            raise exception.UsbPlacementUnavailable(device_id=device_id,
                                                    reason=str(e))
        return True

    def free(self, context, device_id, instance_uuid):
        """Take the device out of the server's allocation. A failure is
        logged: the next check of the server's allocations (``count``)
        takes it out.
        """
        try:
            current = self.client.get_allocs_for_consumer(context,
                                                          instance_uuid)
            held = current.get('allocations', {}).get(device_id)
            if held:
                self.client.remove_resources_from_instance_allocation(
                    context, instance_uuid,
                    {device_id: {'resources': held['resources']}})
        except Exception as e:
            LOG.warning('USB device %s could not be taken out of the '
                        'allocation of server %s in placement: %s; the '
                        'next check of the server\'s allocation does it',
                        device_id, instance_uuid, e)

    def count(self, context, instance_uuid, device_ids):
        """Make the server's allocation count exactly the devices of
        ``device_ids`` among those it holds through the API on this host
        (those it got from its flavor are Nova's): a device missing from
        the allocation is added, taken from a migration of the same server
        that holds it (a resize on this host gave the migration the
        server's allocation); devices in ``device_ids`` only are checked.

        Returns the ids added. Raises like ``allocate``.
        """
        added = []
        for device_id in device_ids:
            current = self._allocations(context, instance_uuid)
            if device_id in current.get('allocations', {}):
                continue
            holders = self._consumers(context, device_id)
            migrations = [c for c in holders
                          if c != instance_uuid and
                          _is_migration_of(context, c, instance_uuid)]
            if migrations:
                self._move(context, device_id, migrations[0], instance_uuid)
            elif not self.allocate(context, device_id, instance_uuid):
                continue
            added.append(device_id)
        return added

    def free_unrequested(self, context, instance_uuid, requested):
        """Take out of the server's allocation every USB device provider
        (named ``<node>_usb_<device id>``) not in ``requested``; the ids
        taken out.
        """
        current = self._allocations(context, instance_uuid)
        freed = []
        for rp_uuid, held in sorted(current.get('allocations', {}).items()):
            if rp_uuid in requested:
                continue
            answer = self._get(rp_uuid, '/resource_providers/%s' % rp_uuid)
            if not answer or not answer.json()['name'].endswith(
                    '_usb_%s' % rp_uuid):
                continue
            self._remove_once(context, instance_uuid, rp_uuid, held)
            freed.append(rp_uuid)
        return freed

    def _remove_once(self, context, instance_uuid, rp_uuid, held):
        """Take the device out of the server's allocation. When placement
        could not be reached, look again after a pause (as _read does):
        the write may have gone through before the connection dropped,
        and is made again only when the device is still there.
        """
        for pause in _READ_PAUSES + (None,):
            try:
                self.client.remove_resources_from_instance_allocation(
                    context, instance_uuid,
                    {rp_uuid: {'resources': held['resources']}})
                return
            except ks_exceptions.ConnectFailure as e:
                if pause is None:
                    raise exception.UsbPlacementUnavailable(
                        device_id=rp_uuid, reason=str(e))
                LOG.info('Placement could not be reached (%s): looking at '
                         'the allocation again in %.1f s', e, pause)
                time.sleep(pause)
            except Exception as e:
                raise exception.UsbPlacementUnavailable(device_id=rp_uuid,
                                                        reason=str(e))
            current = self._allocations(context, instance_uuid)
            if rp_uuid not in current.get('allocations', {}):
                return

    def _move(self, context, device_id, source, instance_uuid):
        """Move the device's unit from consumer ``source`` (a migration of
        the server) to the server, both consumers in one write.
        """
        for _ in range(_WRITE_ATTEMPTS):
            moving = self._allocations(context, source)
            target = self._allocations(context, instance_uuid)
            unit = moving['allocations'].pop(device_id, None)
            if unit is None:
                return
            target['allocations'][device_id] = unit
            answer = self._call(self.client.post, device_id, '/allocations', {
                consumer: {
                    'allocations': {
                        rp: {'resources': a['resources']}
                        for rp, a in allocs['allocations'].items()},
                    'project_id': allocs['project_id'],
                    'user_id': allocs['user_id'],
                    'consumer_generation': allocs['consumer_generation']}
                for consumer, allocs in ((source, moving),
                                         (instance_uuid, target))})
            if answer.status_code != 409:
                self._check(answer, device_id)
                return
        raise exception.UsbPlacementUnavailable(
            device_id=device_id, reason='the allocations kept changing')

    def _allocations(self, context, consumer):
        try:
            return _read(self.client.get_allocs_for_consumer, context,
                         consumer)
        except (nova_exception.ConsumerAllocationRetrievalFailed,
                ks_exceptions.ClientException) as e:
            raise exception.UsbPlacementUnavailable(device_id=consumer,
                                                    reason=str(e))

    def _resource_class(self, context, device_id):
        """The resource class of the device's provider, or None when
        placement has no provider for it.
        """
        url = '/resource_providers/%s/inventories' % device_id
        answer = self._get(device_id, url)
        if answer.status_code == 404:
            return None
        self._check(answer, device_id)
        inventories = answer.json()['inventories']
        return next(iter(inventories), None)

    def _consumers(self, context, device_id):
        url = '/resource_providers/%s/allocations' % device_id
        answer = self._get(device_id, url)
        if answer.status_code == 404:
            return {}
        self._check(answer, device_id)
        return answer.json()['allocations']

    def _get(self, device_id, url):
        """GET ``url`` from placement, tried again when it could not
        connect; UsbPlacementUnavailable when it still fails.
        """
        return self._call(functools.partial(_read, self.client.get),
                          device_id, url)

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


def _read(read, *args, **kwargs):
    """``read(*args, **kwargs)``, a GET, tried again after a pause when it
    could not connect (placement restarting, or a kept-alive connection
    that its server had closed: nova-compute's first requests after a
    restart met exactly that). Reading twice changes nothing; writes are
    never repeated here.
    """
    for pause in _READ_PAUSES:
        try:
            return read(*args, **kwargs)
        except ks_exceptions.ConnectFailure as e:
            LOG.info('Placement could not be reached (%s): trying again '
                     'in %.1f s', e, pause)
            time.sleep(pause)
    return read(*args, **kwargs)


def _is_migration_of(context, consumer, instance_uuid):
    """Whether placement consumer ``consumer`` is a migration of the
    server (Nova gives a migration the server's allocation on its source
    host while it moves).
    """
    try:
        migration = objects.Migration.get_by_uuid(context, consumer)
    except nova_exception.MigrationNotFound:
        return False
    return migration.instance_uuid == instance_uuid
