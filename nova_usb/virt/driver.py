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

"""Nova's libvirt driver, with host USB devices for its servers.

Load it in nova-compute with::

    [DEFAULT]
    compute_driver = usb_libvirt.LibvirtUsbDriver

(Nova imports compute drivers from the ``nova.virt`` package only; nova-usb
installs the one-line module ``nova/virt/usb_libvirt.py`` that names this
class.)

What it changes in Nova's driver, and nothing else:

* start-up: checks [usb] device_spec (a bad rule stops the service), scans
  the host's USB devices, watches hotplug, rebuilds the claims of the
  servers on this host and brings their domains to their requests (in
  init_host); serves nova-usb's RPC API once nova-compute is up (after
  Nova's first resource update and its own RPC servers; a failed start
  never serves it), until the service stops (cleanup_host);
* a device a server holds that comes back to the host (replugged, moved)
  is given back to the running server;
* every time Nova writes a domain (boot, reboot, start, rebuild, rescue,
  resize, unshelve, evacuate), the server's requested USB controllers and
  devices are put into it;
* every assignable device is a child resource provider of the compute
  node in placement (nova_usb.virt.placement); a server placed here for
  devices its flavor asks for gets those placement allocated to it, when
  it boots, is rebuilt, unshelved, evacuated, resized or migrated here
  (nova_usb.virt.placed_devices);
* a deleted server, or one leaving the host, releases its devices;
* live migration of a server holding USB devices is refused (checked once
  a USB change in progress on it has ended);
* every entry point that changes a domain waits while a USB change on the
  same server is in progress (nova_usb.virt.locks).
"""

import contextlib
import copy
import inspect
import threading

from nova.compute import task_states
from nova import context as nova_context
from nova import exception as nova_exception
from nova.virt.libvirt import driver as libvirt_driver
from oslo_log import log as logging
from oslo_utils import excutils

from nova_usb.db import server_requests
from nova_usb import exception
from nova_usb import rpc as usb_rpc
from nova_usb.virt import locks
from nova_usb.virt import manager as usb_manager

LOG = logging.getLogger(__name__)

# Task states in which a destroy() means the server leaves this host for
# good, so its devices are released. A hard reboot, a rebuild or a resize
# onto the same host also destroy the domain, but keep the devices.
_LEAVING = (task_states.DELETING, task_states.SHELVING_OFFLOADING,
            task_states.SOFT_DELETING)
# A resize reverted: the destination gives back the devices placement
# allocated there (the source takes its own again from the allocations).
_REVERTING = (task_states.RESIZE_REVERTING,)


def _after_usb_changes(name):
    """Nova's driver entry point ``name``, run when no USB change on its
    server is in progress (nova_usb.virt.locks).
    """
    nova_method = getattr(libvirt_driver.LibvirtDriver, name)
    signature = inspect.signature(nova_method)

    def entry_point(self, *args, **kwargs):
        instance = signature.bind(self, *args, **kwargs).arguments['instance']
        with locks.domain_turn(instance.uuid):
            return getattr(super(LibvirtUsbDriver, self), name)(*args,
                                                                **kwargs)
    entry_point.__name__ = name
    entry_point.__doc__ = nova_method.__doc__
    return entry_point


class LibvirtUsbDriver(libvirt_driver.LibvirtDriver):

    # Every entry point that writes, starts, stops or removes a domain
    # (destroy, spawn and the migration steps below too).
    reboot = _after_usb_changes('reboot')
    power_off = _after_usb_changes('power_off')
    power_on = _after_usb_changes('power_on')
    pause = _after_usb_changes('pause')
    unpause = _after_usb_changes('unpause')
    suspend = _after_usb_changes('suspend')
    resume = _after_usb_changes('resume')
    resume_state_on_host_boot = _after_usb_changes(
        'resume_state_on_host_boot')
    rescue = _after_usb_changes('rescue')
    unrescue = _after_usb_changes('unrescue')
    migrate_disk_and_power_off = _after_usb_changes(
        'migrate_disk_and_power_off')

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi, read_only)
        self.usb = None
        self._usb_rpc_server = None
        # Between the thread that starts the service and the one that
        # stops it (a SIGTERM during a long start-up): the RPC server,
        # and whether it may still be started.
        self._usb_rpc_lock = threading.Lock()
        self._usb_may_serve = False
        # The compute manager whose post_start_hook starts the RPC server.
        self._usb_hooked_manager = None

    def init_host(self, host):
        super().init_host(host)
        self.usb = usb_manager.UsbManager(self, host)
        try:
            self.usb.start(nova_context.get_admin_context())
        except Exception:
            with excutils.save_and_reraise_exception():
                self.usb.stop()
        # The claims are rebuilt, the domains reconciled, the revoked
        # devices detached and the held ones counted in placement: only
        # now may requests come, and only once nova-compute is up.
        with self._usb_rpc_lock:
            self._usb_may_serve = True
        self._serve_usb_rpc_once_up(host)

    def _serve_usb_rpc_once_up(self, host):
        """Start nova-usb's RPC server once nova-compute's start succeeded.

        Nova calls init_host early in Service.start: after it, the compute
        manager still checks the host, creates the service record, runs
        its first resource update (pre_start_hook: placement, PCI, which
        may fail the start on a configuration Nova rejects) and starts its
        own RPC servers, then calls the manager's post_start_hook. A start
        that fails on the way calls no cleanup_host, so nothing started
        before it may need one: nova-usb's RPC server starts in
        post_start_hook, after Nova's own, and a failed start never
        started it. Nova gives a driver no hook of its own after its
        start-up: the driver wraps the post_start_hook of the compute
        manager that loaded it (the one behind its virtapi), on that
        manager object only. Not the driver's update_provider_tree: Nova
        still reports PCI devices after it in the same resource update,
        which is what rejects a [pci] device_spec.
        """
        manager = getattr(self.virtapi, '_compute', None)
        if getattr(manager, 'post_start_hook', None) is None:
            LOG.warning('nova-usb: no compute manager runs this driver; '
                        'serving RPC for host %s at once', host)
            self._start_usb_rpc(host)
            return
        if manager is self._usb_hooked_manager:
            # The same service started again: the hook is in place.
            return
        nova_post_start_hook = manager.post_start_hook

        def post_start_hook(*args, **kwargs):
            nova_post_start_hook(*args, **kwargs)
            self._start_usb_rpc(host)

        manager.post_start_hook = post_start_hook
        self._usb_hooked_manager = manager

    def _start_usb_rpc(self, host):
        with self._usb_rpc_lock:
            if not self._usb_may_serve or self._usb_rpc_server is not None:
                return
            server = usb_rpc.get_server(host, self.usb)
            server.start()
            self._usb_rpc_server = server
        LOG.info('nova-usb: serving RPC on topic %s for host %s',
                 usb_rpc.TOPIC, host)

    def cleanup_host(self, host):
        with self._usb_rpc_lock:
            # Also when the service stops before its start is done.
            self._usb_may_serve = False
            server, self._usb_rpc_server = self._usb_rpc_server, None
        if server is not None:
            server.stop()
            server.wait()
        if self.usb is not None:
            self.usb.stop()
        super().cleanup_host(host)

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        super().update_provider_tree(provider_tree, nodename,
                                     allocations=allocations)
        if self.usb is not None:
            self.usb.update_provider_tree(provider_tree, nodename)
            # What spawn() reads its allocations against.
            self.provider_tree = copy.deepcopy(provider_tree)

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):
        with locks.domain_turn(instance.uuid), \
                self._allocated_usb(instance, allocations):
            super().spawn(context, instance, image_meta, injected_files,
                          admin_password, allocations,
                          network_info=network_info,
                          block_device_info=block_device_info,
                          power_on=power_on, accel_info=accel_info)
        self._count_usb(context, instance)

    def finish_migration(self, context, migration, instance, disk_info,
                         network_info, image_meta, resize_instance,
                         allocations, *args, **kwargs):
        with locks.domain_turn(instance.uuid), \
                self._allocated_usb(instance, allocations):
            super().finish_migration(context, migration, instance, disk_info,
                                     network_info, image_meta,
                                     resize_instance, allocations, *args,
                                     **kwargs)
        self._count_usb(context, instance)

    def finish_revert_migration(self, context, instance, *args, **kwargs):
        allocations = None
        if self.usb is not None:
            allocations = self.usb.reverted_allocations(context, instance)
        with locks.domain_turn(instance.uuid), \
                self._allocated_usb(instance, allocations):
            super().finish_revert_migration(context, instance, *args,
                                            **kwargs)
        self._count_usb(context, instance)

    def _count_usb(self, context, instance):
        """After Nova wrote the server's allocation anew, the devices it
        holds through the API are in it again
        (nova_usb.virt.placed_devices.count_in_placement).
        """
        if self.usb is not None:
            self.usb.count_in_placement(context, instance)

    def _allocated_usb(self, instance, allocations):
        if self.usb is None:
            return contextlib.nullcontext()
        return self.usb.allocated_devices(instance, allocations)

    def _get_guest_config(self, instance, network_info, image_meta,
                          disk_info, *args, **kwargs):
        guest = super()._get_guest_config(
            instance, network_info, image_meta, disk_info, *args, **kwargs)
        if self.usb is not None:
            self.usb.add_to_guest_config(instance, guest)
        return guest

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        with locks.domain_turn(instance.uuid):
            super().destroy(context, instance, network_info,
                            block_device_info=block_device_info,
                            destroy_disks=destroy_disks,
                            destroy_secrets=destroy_secrets)
        if self.usb is None:
            return
        if (instance.task_state in _LEAVING or
                instance.host != self.usb.host):
            self.usb.release(instance)
        elif instance.task_state in _REVERTING:
            self.usb.release(instance, allocated_only=True)

    def confirm_migration(self, context, migration, instance, network_info):
        super().confirm_migration(context, migration, instance, network_info)
        if (self.usb is not None and
                migration.source_compute == self.usb.host and
                migration.dest_compute != self.usb.host):
            self.usb.release(instance)

    def check_can_live_migrate_source(self, context, instance,
                                      dest_check_data,
                                      block_device_info=None):
        """Refuse a server holding USB devices, as stored once a USB
        change in progress on it has ended.

        nova-api stored the migrating task state before this check: a
        change in progress then cannot save (it is undone), and none can
        start. Without the wait, the migration would run while such a
        change is in libvirt: a device attached meanwhile would go to the
        destination's domain, or be recorded for a server that left.
        """
        with locks.domain_turn(instance.uuid):
            requests = server_requests.load(
                server_requests.read(context, instance.uuid))
        if requests.devices:
            raise nova_exception.MigrationPreCheckError(
                reason=exception.UsbLiveMigrationRefused(
                    server_id=instance.uuid,
                    devices=', '.join(r.id for r in requests.devices)
                ).format_message())
        return super().check_can_live_migrate_source(
            context, instance, dest_check_data, block_device_info)
