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

"""Every USB change on a compute host: locks, claims and the server state.

The UsbManager owns the host's USB inventory and hotplug watcher, the
parsed [usb] device_spec and the claims; it decides, and leaves the domain
to nova_usb.virt.guest, port plans to ports and plans, waits to locks and
the stored requests to nova_usb.db. A change on a server:

1. waits its turn: Nova's own lock of the server, then its domain lock,
   both bounded (nova_usb.virt.locks); no Nova operation runs meanwhile;
2. reads the server again and goes on only without a Nova task in
   progress (nova_usb.states);
3. under the host's USB lock, checks the device, its holder and the ports,
   claims, then changes libvirt (live servers only);
4. saves the requests expecting task state None, before nova-api's
   deadline: a Nova operation that started meanwhile, or a late save,
   makes it fail, and every step is undone.

A live detach waits for the guest without the host's lock, so other
servers are not kept waiting.
"""

import contextlib
import threading

from nova_usbclient import statuses
from oslo_log import log as logging

from nova_usb import actions
from nova_usb import conf as nova_usb_conf
from nova_usb.db import requests as usb_requests
from nova_usb.db import server_requests
from nova_usb import exception
from nova_usb import records
from nova_usb import states
from nova_usb.virt import claims as usb_claims
from nova_usb.virt import controllers
from nova_usb.virt import devspec
from nova_usb.virt import give_back
from nova_usb.virt import guest as usb_guest
from nova_usb.virt import identity
from nova_usb.virt import injection
from nova_usb.virt import inventory as usb_inventory
from nova_usb.virt import locks
from nova_usb.virt import placed_devices
from nova_usb.virt import placement
from nova_usb.virt import plans
from nova_usb.virt import ports
from nova_usb.virt import queries
from nova_usb.virt import start_up
from nova_usb.virt import watcher as usb_watcher

CONF = nova_usb_conf.CONF
LOG = logging.getLogger(__name__)

REASON_NOT_ON_HOST = 'not on the host now'
# Without the holder's id: the reason may reach a member of another
# project; the holder is the description's server_id, which nova-api shows
# only to callers who may see host details.
REASON_HELD = 'held by another server'


class UsbManager(placed_devices.PlacedDevices, give_back.GiveBack,
                 queries.UsbQueries, start_up.StartUp):

    def __init__(self, driver, host):
        self.driver = driver
        self.host = host
        self.specs = devspec.parse_device_specs(CONF.usb.device_spec)
        self.lock = threading.RLock()
        self.claims = usb_claims.UsbClaims()
        # {device id: server uuid} of the detaches accepted and not ended
        # (start_detach); under self.lock.
        self.detaching = {}
        self.inventory = usb_inventory.HostUsbInventory(host)
        self.watcher = usb_watcher.HotplugWatcher(
            self.inventory, on_change=self._on_device_change)
        # None where no placement is around (a driver outside Nova's
        # compute manager): nothing is counted.
        reportclient = getattr(getattr(driver, 'virtapi', None),
                               'reportclient', None)
        self.providers = (placement.DeviceProviders(reportclient)
                          if reportclient is not None else None)

    # Life of the service (start: nova_usb.virt.start_up)

    def stop(self):
        self.watcher.stop()

    # What Nova writes

    def add_to_guest_config(self, instance, guest):
        """Put the server's requested controllers and devices into the
        domain Nova is about to write (boot, reboot, rebuild, ...).

        A device the server may not have now (absent from the host, no
        longer matched by [usb] device_spec, held by another server, back
        with other interfaces than at attach) is left out: the server
        boots without it and lists it as missing. So
        are requests that cannot be read: the error is logged, the server
        boots.
        """
        try:
            requests = self._load(instance)
        except exception.CorruptUsbRequests:
            return
        if not requests.devices and not requests.controllers:
            return
        with self.lock:
            present = []
            for request in requests.devices:
                device = self.inventory.get(request.id)
                reason = self._refusal(device, instance.uuid, request)
                if reason:
                    LOG.warning('USB device %s requested by the server is '
                                '%s; booting without it', request.id,
                                reason, instance=instance)
                    continue
                identity.log_unchecked(request, instance.uuid)
                self.claims.claim(request.id, instance.uuid,
                                  allocated=bool(request.allocated))
                present.append((request, device))
            injection.add_to_guest_config(guest, requests, present)

    # Devices

    def attach_device(self, context, instance, device_id,
                      controller_model=None, deadline=None,
                      granted_projects=None):
        """``granted_projects``: None when the caller may attach any
        device; else the projects nova-api's stored grants give the device
        to, and the device must be granted to the server's project by
        them or by its device_spec rule (nova_usb.api.grants).
        """
        if controller_model is not None:
            controllers.controller_ports(controller_model)
        with self._server(context, instance.uuid, deadline) as instance:
            mode = states.device_change_mode(instance, 'attach a USB device')
            requests = self._load(instance)
            if requests.device(device_id):
                raise exception.UsbDeviceAlreadyAttached(device_id=device_id)
            with locks.acquired(self.lock, deadline):
                if granted_projects is not None:
                    self._check_granted(device_id, instance.project_id,
                                        granted_projects)
                device = self._assignable(device_id, instance.uuid)
                request = usb_requests.DeviceRequest(
                    id=device.id, vendor_id=device.vendor_id,
                    product_id=device.product_id,
                    controller_model=controller_model,
                    interface_classes=device.interface_classes)
                if mode == states.LIVE:
                    wanted = requests.with_device(request)
                else:
                    wanted = plans.with_device(self._defined_xml(instance),
                                               requests, request)
                self._allocate(context, device.id, instance.uuid)
                self.claims.claim(device.id, instance.uuid)
                try:
                    if mode == states.LIVE:
                        self._attach_live(context, instance, device, request,
                                          wanted, deadline)
                    else:
                        self._save(context, instance, wanted, deadline)
                except Exception:
                    self.claims.release(device.id, instance.uuid)
                    self._free(context, device.id, instance.uuid)
                    raise
            LOG.info('Attached USB device %s (%s:%s at %s)', device.id,
                     device.vendor_id, device.product_id, device.port_path,
                     instance=instance)
            return records.ServerDevice.of_host_device(
                self._describe(device, instance.uuid),
                status=statuses.ATTACHED, reason=None,
                controller_model=controller_model)

    def _assignable(self, device_id, instance_uuid):
        """The host's device, if this server may be given it; else the
        refusal that says why.
        """
        device = self.inventory.get(device_id)
        if device is None:
            raise exception.UsbDeviceNotFound(device_id=device_id,
                                              host=self.host)
        reason = devspec.api_refusal(self.specs, device)
        if reason:
            raise exception.UsbDeviceNotAssignable(device_id=device_id,
                                                   reason=reason)
        self.claims.check(device_id, instance_uuid)
        return device

    def _check_granted(self, device_id, project_id, granted_projects):
        """Refuse a device of this host the project may not have through
        the API: its rule is for flavors only, or neither its rule nor
        ``granted_projects`` (nova-api's stored grants) grant it; a device
        no rule selects (a hub, a keyboard) is granted by nothing. Checked
        before anything else, so that the refusal tells a project member
        nothing of such a device.
        """
        device = self.inventory.get(device_id)
        if device is None:
            return
        spec = devspec.matching_spec(self.specs, device)
        if spec is None or not spec.for_api() or not (
                spec.grants(project_id) or project_id in granted_projects):
            raise exception.UsbDeviceNotGranted(device_id=device_id,
                                                project_id=project_id)

    def _refusal(self, device, instance_uuid, request=None):
        """Why the server may not have ``device`` now, or None: the rule
        of every path (attach, the domain Nova writes, give-back, listing).

        ``request``: the server's stored request for the device, when it
        has one; the device must then have the interfaces it had when
        the server got it.
        """
        if device is None:
            return REASON_NOT_ON_HOST
        reason = devspec.unassignable_reason(self.specs, device)
        if reason:
            return reason
        holder = self.claims.holder(device.id)
        if holder not in (None, instance_uuid):
            return REASON_HELD
        if request is not None:
            return identity.other_interfaces_reason(request, device)
        return None

    def _usable(self, request, instance_uuid):
        """``(device, None)`` claimed for the server, or ``(None, why
        not)``, for one of the server's requests.
        """
        with self.lock:
            device = self.inventory.get(request.id)
            reason = self._refusal(device, instance_uuid, request)
            if reason:
                return None, reason
            self.claims.claim(request.id, instance_uuid)
        identity.log_unchecked(request, instance_uuid)
        return device, None

    def _attach_live(self, context, instance, device, request, wanted,
                     deadline):
        guest = usb_guest.UsbGuest(self.driver, instance)
        topology = guest.topology()
        port = topology.next_free_port(request.controller_model)
        if port is None:
            raise exception.UsbNoFreePort(reason=ports.full_reason(
                topology, request.controller_model))
        hostdev = usb_guest.make_hostdev(device, port)
        guest.attach(hostdev)
        try:
            self._save(context, instance, wanted, deadline)
        except Exception:
            with usb_guest.undoing('Could not undo the live attach of USB '
                                   'device %s' % device.id, instance):
                guest.detach(device.id)
            raise

    def start_detach(self, context, instance, device_id):
        """Accept a detach, and make it in a thread of its own: nova-api
        answers 202 at once, the device is listed ``detaching`` until the
        thread ends, and the server action that nova-api started gets the
        outcome as its ``compute_usb_detach`` event, with the
        ``instance.usb_detach.*`` notifications.

        What can be told now is refused now, as the detach itself would
        refuse it: a state that forbids it, a device the server does not
        have or has from its flavor, a detach of it already under way.
        """
        instance = server_requests.read(context, instance.uuid)
        states.device_change_mode(instance, 'detach a USB device')
        requests = self._load(instance)
        self._check_detachable(requests, device_id)
        request = requests.device(device_id)
        with self.lock:
            if device_id in self.detaching:
                raise exception.UsbDeviceDetaching(device_id=device_id)
            self.detaching[device_id] = instance.uuid
        try:
            threading.Thread(
                target=self._detach_in_background,
                args=(context, instance, request),
                name='nova-usb-detach-%s' % device_id, daemon=True).start()
        except Exception:
            with self.lock:
                del self.detaching[device_id]
            raise

    def _detach_in_background(self, context, instance, request):
        try:
            with actions.compute_event(
                    context, instance, actions.DETACH, device_id=request.id,
                    vendor_id=request.vendor_id,
                    product_id=request.product_id):
                self.detach_device(context, instance, request.id)
        except Exception as e:
            LOG.warning('USB device %s was not detached: %s', request.id,
                        e, instance=instance)
        finally:
            with self.lock:
                del self.detaching[request.id]

    @staticmethod
    def _check_detachable(requests, device_id):
        if not requests.device(device_id):
            raise exception.UsbDeviceNotAttached(device_id=device_id)
        if requests.device(device_id).allocated:
            raise exception.UsbDeviceFromFlavor(device_id=device_id)

    def detach_device(self, context, instance, device_id, deadline=None):
        with self._server(context, instance.uuid, deadline) as instance:
            mode = states.device_change_mode(instance, 'detach a USB device')
            requests = self._load(instance)
            self._check_detachable(requests, device_id)
            wanted = requests.without_device(device_id)
            # The claim is kept until the device is gone and recorded so;
            # the guest is waited for without the host's lock.
            if mode == states.LIVE:
                self._detach_live(context, instance, device_id, wanted,
                                  deadline)
            else:
                self._save(context, instance, wanted, deadline)
                self._forget_defined(instance, device_id)
            with self.lock:
                self.claims.release(device_id, instance.uuid)
            self._free(context, device_id, instance.uuid)
            LOG.info('Detached USB device %s', device_id, instance=instance)

    def _detach_live(self, context, instance, device_id, wanted, deadline):
        guest = usb_guest.UsbGuest(self.driver, instance)
        live_before = guest.hostdev(device_id)
        persistent_before = guest.hostdev(device_id, persistent=True)
        if live_before or persistent_before:
            guest.detach(device_id)
        try:
            self._save(context, instance, wanted, deadline)
        except Exception:
            device = live_before or persistent_before
            if device is not None:
                with usb_guest.undoing('Could not undo the detach of USB '
                                       'device %s' % device_id, instance):
                    guest.attach(device, live=bool(live_before),
                                 persistent=bool(persistent_before))
            raise

    def _forget_defined(self, instance, device_id):
        """Drop a detached device from a stopped server's libvirt
        definition too (Nova writes the definition anew at the next start
        anyway; until then it should not name a device the server let go).
        """
        guest = usb_guest.UsbGuest.find(self.driver, instance)
        if guest is not None:
            with usb_guest.undoing('Could not drop USB device %s from the '
                                   'libvirt definition' % device_id,
                                   instance):
                guest.detach_persistent(device_id)

    # Controllers

    def add_controller(self, context, instance, model, ports_count=None,
                       deadline=None):
        controllers.controller_ports(model, ports_count)
        with self._server(context, instance.uuid, deadline) as instance:
            states.controller_change_mode(instance, 'add a USB controller')
            requests = self._load(instance)
            request = plans.new_controller(self._defined_xml(instance),
                                           requests, model, ports_count)
            self._save(context, instance, requests.with_controller(request),
                       deadline)
            return records.Controller(
                index=request.index, model=request.model,
                ports=controllers.controller_ports(model, ports_count),
                used_ports=0, removable=True)

    def remove_controller(self, context, instance, index, deadline=None):
        with self._server(context, instance.uuid, deadline) as instance:
            states.controller_change_mode(instance,
                                          'remove a USB controller')
            wanted = plans.without_controller(
                self._defined_xml(instance), self._load(instance), index)
            self._save(context, instance, wanted, deadline)

    # Helpers

    @contextlib.contextmanager
    def _server(self, context, instance_uuid, deadline):
        """The server as stored now, while no Nova operation can start on
        this host's side of it (nova_usb.virt.locks).

        ``deadline``: when nova-api stops waiting (seconds since the
        epoch), or None for changes nova-compute starts itself.
        """
        with locks.server_turn(instance_uuid, deadline):
            yield server_requests.read(context, instance_uuid)

    def _defined_xml(self, instance):
        """The server's persistent libvirt definition, or None."""
        guest = usb_guest.UsbGuest.find(self.driver, instance)
        return guest.xml(persistent=True) if guest else None

    @staticmethod
    def _load(instance):
        try:
            return server_requests.load(instance)
        except exception.CorruptUsbRequests as e:
            LOG.error('%s', e, instance=instance)
            raise

    @staticmethod
    def _save(context, instance, requests, deadline):
        """Save, unless nova-api has stopped waiting: then the change is
        not made, so that nova-api never reports a failure for a change
        that is made after all.
        """
        locks.check_deadline(deadline)
        server_requests.save(context, instance, requests)
