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

"""Everything nova-usb does on a compute host, under one lock.

The UsbManager owns the host's USB inventory and hotplug watcher, the
parsed [usb] device_spec and the claims. Every attach, detach, controller
change and every domain definition Nova writes goes through it while it
holds the host's USB lock, so two requests can never both win a device.

Order of every change, so that a failure at any step leaves the domain, the
system metadata and the claims as they were:

Changes to one server are serialised by a lock of that server, taken first;
the host's lock is then held for every decision about devices. A live
detach waits for the guest to let go of the device (up to [libvirt]
device_detach_timeout times device_detach_attempts) holding only the
server's lock, so other servers on the host are not kept waiting.

1. check the server state, the device, its holder, the ports (no change);
2. claim the device in memory;
3. change libvirt (live servers only), undone if a later step fails;
4. save the system metadata through conductor;
5. only then is the change kept; any exception before restores all.
"""

import threading

from lxml import etree
from nova import context as nova_context
from nova import exception as nova_exception
from nova import objects
from oslo_concurrency import lockutils
from oslo_log import log as logging

from nova_usb import conf as nova_usb_conf
from nova_usb.db import requests as usb_requests
from nova_usb import exception
from nova_usb import states
from nova_usb.virt import claims as usb_claims
from nova_usb.virt import config as usb_config
from nova_usb.virt import controllers
from nova_usb.virt import devspec
from nova_usb.virt import inventory as usb_inventory
from nova_usb.virt import ports
from nova_usb.virt import watcher as usb_watcher

CONF = nova_usb_conf.CONF
LOG = logging.getLogger(__name__)

ALIAS_PREFIX = 'ua-usb-'
ATTACHED = 'attached'
MISSING = 'missing'


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


def find_hostdev(domain_xml, device_id):
    """The hostdev nova-usb attached for ``device_id``, or None."""
    root = etree.fromstring(domain_xml)
    for element in root.iterfind('devices/hostdev'):
        alias = element.find('alias')
        if (element.get('type') == 'usb' and alias is not None and
                alias.get('name') == device_alias(device_id)):
            hostdev = usb_config.LibvirtConfigGuestUSBHostdev()
            hostdev.parse_dom(element)
            return hostdev
    return None


class UsbManager(object):

    def __init__(self, driver, host):
        self.driver = driver
        self.host = host
        self.specs = devspec.parse_device_specs(CONF.usb.device_spec)
        self.lock = threading.RLock()
        self.claims = usb_claims.UsbClaims()
        self.inventory = usb_inventory.HostUsbInventory(host)
        self.watcher = usb_watcher.HotplugWatcher(
            self.inventory, on_change=self._on_device_change)

    # Life of the service

    def start(self, context):
        """Scan the host, watch it, rebuild the claims of its servers and
        check them against what libvirt runs.
        """
        self.watcher.start()
        instances = objects.InstanceList.get_by_host(
            context, self.host, expected_attrs=['system_metadata'])
        wanted = {}
        with self.lock:
            self.claims = usb_claims.UsbClaims()
            for instance in instances:
                try:
                    wanted[instance.uuid] = self._load(instance)
                except exception.CorruptUsbRequests:
                    continue
                for request in wanted[instance.uuid].devices:
                    try:
                        self.claims.claim(request.id, instance.uuid)
                    except exception.UsbDeviceInUse as e:
                        LOG.error('Two servers on this host request the same '
                                  'USB device: %s', e, instance=instance)
        for instance in instances:
            if instance.uuid in wanted:
                self._log_drift(instance, wanted[instance.uuid])
        LOG.info('nova-usb: %d USB devices on host %s, %d claimed',
                 len(self.inventory.devices()), self.host,
                 len(self.claims.snapshot()))

    def _log_drift(self, instance, requests):
        """Say where a running guest's USB devices differ from its requests.

        Nothing is changed: the requests win the next time Nova writes the
        domain (hard reboot, stop and start).
        """
        if states.DEVICE_CHANGE.get(instance.vm_state) != states.LIVE:
            return
        try:
            xml = self.driver._host.get_guest(instance).get_xml_desc()
        except nova_exception.InstanceNotFound:
            return
        running = set()
        for element in etree.fromstring(xml).iterfind(
                "devices/hostdev[@type='usb']"):
            alias = element.find('alias')
            name = alias.get('name') if alias is not None else ''
            if name.startswith(ALIAS_PREFIX):
                running.add(name[len(ALIAS_PREFIX):])
            else:
                LOG.warning('The guest has a USB host device that nova-usb '
                            'did not attach (alias %s); Nova drops it the '
                            'next time it writes the domain', name or None,
                            instance=instance)
        requested = {r.id for r in requests.devices}
        for device_id in sorted(running - requested):
            LOG.warning('The guest has USB device %s, which it no longer '
                        'requests; it goes at the next hard reboot',
                        device_id, instance=instance)
        for device_id in sorted(requested - running):
            LOG.warning('The guest lacks requested USB device %s (absent '
                        'when it booted, or detached outside nova-usb); it '
                        'comes back when Nova next writes the domain while '
                        'the device is on the host', device_id,
                        instance=instance)

    def stop(self):
        self.watcher.stop()

    # Hotplug

    def _on_device_change(self, change):
        """A device a server holds is plugged in again (replugged, moved to
        another port, or back after the server booted without it): give it
        back to the server in a thread of its own, so that the watcher
        never waits for libvirt.
        """
        if change.action != usb_inventory.ADDED:
            return
        with self.lock:
            holder = self.claims.holder(change.device.id)
        if holder is None:
            return
        threading.Thread(
            target=self.give_back, args=(holder, change.device.id),
            name='nova-usb-give-back-%s' % change.device.id,
            daemon=True).start()

    def give_back(self, instance_uuid, device_id):
        """Attach a held device that came back to its running server.

        The guest lost the device when it left the host, and its QEMU
        never takes it again by itself: the device has a new device number
        (the host's own driver binds it meanwhile). A stale host device
        still in the domain is detached first, then the device is attached
        live and persistent at the guest port it had. Nothing else changes:
        the server's requests and the claim already name the device.
        Stopped servers get it when Nova next writes the domain; a failure
        is logged and the device comes back at the next hard reboot.
        """
        context = nova_context.get_admin_context()
        try:
            with _server_lock(instance_uuid):
                instance = self._fresh(
                    context, objects.Instance(uuid=instance_uuid))
                if (states.DEVICE_CHANGE.get(instance.vm_state) !=
                        states.LIVE or instance.task_state is not None):
                    return
                request = self._load(instance).device(device_id)
                with self.lock:
                    device = self.inventory.get(device_id)
                    if (request is None or device is None or
                            self.claims.holder(device_id) != instance.uuid):
                        return
                self._give_back_live(instance, device, request)
        except nova_exception.InstanceNotFound:
            return
        except Exception as e:
            LOG.error('Could not give USB device %s back to server %s: %s; '
                      'it comes back when Nova next writes the domain '
                      '(hard reboot)', device_id, instance_uuid, e)

    def _give_back_live(self, instance, device, request):
        guest = self.driver._host.get_guest(instance)

        def get_device_conf(from_persistent_config=False):
            return find_hostdev(guest.get_xml_desc(
                dump_inactive=from_persistent_config), device.id)

        stale = get_device_conf()
        address = None
        if stale is not None:
            if (stale.host_bus, stale.host_device) == (device.bus,
                                                       device.devnum):
                return
            if stale.address is not None:
                address = (stale.address.bus, stale.address.port)
            self.driver._detach_with_retry(
                guest, instance.uuid, get_device_conf,
                'USB device %s' % device.id)
        if address is None:
            topology = ports.topology_from_xml(guest.get_xml_desc())
            address = topology.next_free_port(request.controller_model)
            if address is None:
                raise exception.UsbNoFreePort(reason=self._full_reason(
                    topology, request.controller_model))
        try:
            guest.attach_device(make_hostdev(device, address),
                                persistent=True, live=True)
        except Exception as e:
            raise exception.UsbHostRefused(action='attach',
                                           reason=_libvirt_message(e))
        LOG.info('USB device %s is back on the host (%s:%s at %s, bus %d '
                 'device %d): given back to the server', device.id,
                 device.vendor_id, device.product_id, device.port_path,
                 device.bus, device.devnum, instance=instance)

    # What Nova writes

    def add_to_guest_config(self, instance, guest):
        """Put the server's requested controllers and devices into the
        domain Nova is about to write (boot, reboot, rebuild, ...).

        A device absent from the host, or held by another server, is left
        out (the server boots without it and lists it as missing). So are
        requests that cannot be read: the error is logged, the server boots.
        """
        try:
            requests = self._load(instance)
        except exception.CorruptUsbRequests:
            return
        if not requests.devices and not requests.controllers:
            return
        with self.lock:
            self._enable_root_controller(guest, requests)
            for request in requests.controllers:
                guest.add_device(usb_config.LibvirtConfigGuestUSBController(
                    index=request.index, model=request.model,
                    ports=request.ports))
            topology = ports.topology_from_xml(guest.to_xml())
            taken = set()
            for request in requests.devices:
                device = self.inventory.get(request.id)
                if device is None:
                    LOG.warning('USB device %s requested by the server is not '
                                'on this host; booting without it',
                                request.id, instance=instance)
                    continue
                holder = self.claims.holder(request.id)
                if holder not in (None, instance.uuid):
                    LOG.warning('USB device %s requested by the server is '
                                'held by server %s; booting without it',
                                request.id, holder, instance=instance)
                    continue
                address = None
                if request.controller_model:
                    free = [p for p in topology.free_ports(
                        request.controller_model) if p not in taken]
                    address = free[0] if free else None
                    taken.add(address)
                self.claims.claim(request.id, instance.uuid)
                guest.add_device(make_hostdev(device, address))

    @staticmethod
    def _enable_root_controller(guest, requests):
        if not requests.devices:
            return
        for device in guest.devices:
            if (isinstance(device,
                           usb_config.nova_config.LibvirtConfigGuestController)
                    and device.type == 'usb' and device.model == 'none'):
                device.model = CONF.usb.default_controller_model

    # Queries

    def list_host_devices(self, context):
        with self.lock:
            holders = self.claims.snapshot()
            return [self._describe(d, holders.get(d.id))
                    for d in self.inventory.devices()]

    def list_server_devices(self, context, instance):
        instance = self._fresh(context, instance)
        requests = self._load(instance)
        with self.lock:
            result = []
            for request in requests.devices:
                device = self.inventory.get(request.id)
                holder = self.claims.holder(request.id)
                attached = device is not None and holder == instance.uuid
                if device is not None:
                    entry = self._describe(device, holder)
                else:
                    entry = {'id': request.id, 'host': self.host,
                             'vendor_id': request.vendor_id,
                             'product_id': request.product_id}
                entry['status'] = ATTACHED if attached else MISSING
                entry['controller_model'] = request.controller_model
                result.append(entry)
            return result

    def list_controllers(self, context, instance):
        """The server's USB controllers and how many ports each uses: of
        the running guest when it runs, else as its next start will have
        them.
        """
        instance = self._fresh(context, instance)
        requests = self._load(instance)
        if states.DEVICE_CHANGE.get(instance.vm_state) == states.LIVE:
            guest = self.driver._host.get_guest(instance)
            topology = ports.topology_from_xml(guest.get_xml_desc())
            taken = [(u.bus, u.port) for u in topology.used]
        else:
            topology = self._topology(instance, requests)
            taken = self._planned_ports(topology, requests)
        return [{'index': c.index, 'model': c.model, 'ports': c.ports,
                 'used_ports': sum(1 for bus, _ in taken if bus == c.index),
                 'removable': requests.controller(c.index) is not None}
                for c in topology.controllers]

    @staticmethod
    def _planned_ports(topology, requests):
        """The ports the next start gives out, as add_to_guest_config and
        libvirt do: devices asking for a controller model first, on that
        model's ports; then everything else on the first free ports.
        """
        taken = []
        for request in requests.devices:
            if request.controller_model:
                free = [p for p in topology.free_ports(
                    request.controller_model) if p not in taken]
                taken += free[:1]
        others = len(topology.unaddressed) - len(taken)
        free = [p for p in topology.free_ports() if p not in taken]
        return taken + free[:others]

    def _describe(self, device, holder):
        description = device.to_dict()
        reason = devspec.unassignable_reason(self.specs, device)
        description['assignable'] = reason is None
        description['reason'] = reason
        description['server_id'] = holder
        return description

    # Devices

    def attach_device(self, context, instance, device_id,
                      controller_model=None):
        if controller_model is not None:
            controllers.controller_ports(controller_model)
        with _server_lock(instance.uuid), self.lock:
            instance = self._fresh(context, instance)
            mode = states.device_change_mode(instance,
                                             'attach a USB device')
            requests = self._load(instance)
            if requests.device(device_id):
                raise exception.UsbDeviceAlreadyAttached(device_id=device_id)
            device = self.inventory.get(device_id)
            if device is None:
                raise exception.UsbDeviceNotFound(device_id=device_id,
                                                  host=self.host)
            reason = devspec.unassignable_reason(self.specs, device)
            if reason:
                raise exception.UsbDeviceNotAssignable(device_id=device_id,
                                                       reason=reason)
            self.claims.check(device_id, instance.uuid)
            request = usb_requests.DeviceRequest(
                id=device.id, vendor_id=device.vendor_id,
                product_id=device.product_id,
                controller_model=controller_model)
            wanted = requests.with_device(request)
            if mode == states.LIVE:
                self._attach_live(context, instance, device, request,
                                  wanted)
            else:
                self._record_attach(context, instance, requests, wanted,
                                    controller_model)
            LOG.info('Attached USB device %s (%s:%s at %s)', device.id,
                     device.vendor_id, device.product_id, device.port_path,
                     instance=instance)
            return self._describe(device, instance.uuid)

    def _attach_live(self, context, instance, device, request, wanted):
        guest = self.driver._host.get_guest(instance)
        topology = ports.topology_from_xml(guest.get_xml_desc())
        port = topology.next_free_port(request.controller_model)
        if port is None:
            raise exception.UsbNoFreePort(reason=self._full_reason(
                topology, request.controller_model))
        hostdev = make_hostdev(device, port)
        self.claims.claim(device.id, instance.uuid)
        try:
            try:
                guest.attach_device(hostdev, persistent=True, live=True)
            except Exception as e:
                raise exception.UsbHostRefused(action='attach',
                                               reason=_libvirt_message(e))
            try:
                self._save(instance, wanted)
            except Exception:
                with _logged('Could not undo the live attach of USB device '
                             '%s' % device.id, instance):
                    guest.detach_device(hostdev, persistent=True, live=True)
                raise
        except Exception:
            self.claims.release(device.id, instance.uuid)
            raise

    def _record_attach(self, context, instance, requests, wanted,
                       controller_model):
        """Record a device for a stopped server.

        libvirt fits the server's USB devices when Nova defines the domain
        at the next start, adding USB hubs when the controllers' ports run
        out, so only a device asking for a controller model is checked: it
        gets a port of that model, adding the controller first if needed.
        """
        if controller_model:
            if not self._topology(instance, requests).controllers_of(
                    controller_model):
                wanted = wanted.with_controller(
                    self._new_controller_request(
                        instance, requests, controller_model, None))
            self._check_model_ports(self._topology(instance, wanted),
                                    wanted, controller_model)
        request = wanted.devices[-1]
        self.claims.claim(request.id, instance.uuid)
        try:
            self._save(instance, wanted)
        except Exception:
            self.claims.release(request.id, instance.uuid)
            raise

    @staticmethod
    def _check_model_ports(topology, requests, model):
        wanting = [r for r in requests.devices if r.controller_model == model]
        if len(wanting) > len(topology.free_ports(model)):
            raise exception.UsbNoFreePort(
                reason='the %d ports of the server\'s %s controllers are '
                       'all asked for. Add another %s controller, or attach '
                       'without a controller_model.' % (
                           len(topology.free_ports(model)), model, model))

    @staticmethod
    def _full_reason(topology, model):
        if model and not topology.controllers_of(model):
            return ('the server has no %s USB controller. Stop the server '
                    'and attach again with this controller_model (or add '
                    'the controller) to get one.' % model)
        return ('every USB port of the server%s is taken. Stop the server '
                'and add a USB controller, or attach while it is stopped '
                'with a controller_model.' % (
                    ' on %s controllers' % model if model else ''))

    def detach_device(self, context, instance, device_id):
        with _server_lock(instance.uuid):
            with self.lock:
                instance = self._fresh(context, instance)
                mode = states.device_change_mode(instance,
                                                 'detach a USB device')
                requests = self._load(instance)
                if not requests.device(device_id):
                    raise exception.UsbDeviceNotAttached(
                        device_id=device_id)
                wanted = requests.without_device(device_id)
            # The claim is kept until the device is gone and recorded so.
            if mode == states.LIVE:
                self._detach_live(instance, device_id, wanted)
            else:
                self._save(instance, wanted)
            with self.lock:
                self.claims.release(device_id, instance.uuid)
            LOG.info('Detached USB device %s', device_id, instance=instance)

    def _detach_live(self, instance, device_id, wanted):
        guest = self.driver._host.get_guest(instance)

        def get_device_conf(from_persistent_config=False):
            return find_hostdev(guest.get_xml_desc(
                dump_inactive=from_persistent_config), device_id)

        live_before = get_device_conf()
        persistent_before = get_device_conf(from_persistent_config=True)
        if live_before or persistent_before:
            try:
                self.driver._detach_with_retry(
                    guest, instance.uuid, get_device_conf,
                    'USB device %s' % device_id)
            except Exception as e:
                # Nova detaches the persistent definition first: put it
                # back if the live device stayed.
                if persistent_before and not get_device_conf(True):
                    with _logged('Could not restore the persistent '
                                 'definition of USB device %s' % device_id,
                                 instance):
                        guest.attach_device(persistent_before,
                                            persistent=True)
                raise exception.UsbHostRefused(action='detach',
                                               reason=_libvirt_message(e))
        try:
            self._save(instance, wanted)
        except Exception:
            device = live_before or persistent_before
            if device is not None:
                with _logged('Could not undo the detach of USB device %s'
                             % device_id, instance):
                    guest.attach_device(device,
                                        persistent=bool(persistent_before),
                                        live=bool(live_before))
            raise

    # Controllers

    def add_controller(self, context, instance, model, ports_count=None):
        controllers.controller_ports(model, ports_count)
        with _server_lock(instance.uuid), self.lock:
            instance = self._fresh(context, instance)
            states.controller_change_mode(instance,
                                          'add a USB controller')
            requests = self._load(instance)
            if len(requests.controllers) >= (
                    CONF.usb.max_controllers_per_server):
                raise exception.UsbTooManyControllers(
                    limit=CONF.usb.max_controllers_per_server)
            request = self._new_controller_request(
                instance, requests, model, ports_count)
            self._save(instance, requests.with_controller(request))
            return {'index': request.index, 'model': request.model,
                    'ports': controllers.controller_ports(model, ports_count),
                    'used_ports': 0, 'removable': True}

    def remove_controller(self, context, instance, index):
        with _server_lock(instance.uuid), self.lock:
            instance = self._fresh(context, instance)
            states.controller_change_mode(instance,
                                          'remove a USB controller')
            requests = self._load(instance)
            controller = requests.controller(index)
            if controller is None:
                raise exception.UsbControllerNotFound(index=index)
            wanted = requests.without_controller(index)
            topology = self._topology(instance, wanted)
            for device in wanted.devices:
                if (device.controller_model and
                        not topology.controllers_of(
                            device.controller_model)):
                    raise exception.UsbControllerInUse(
                        index=index, reason='USB device %s was attached '
                        'to a %s controller; detach it first' % (
                            device.id, device.controller_model))
            if controller.model in {d.controller_model
                                    for d in wanted.devices}:
                try:
                    self._check_model_ports(topology, wanted,
                                            controller.model)
                except exception.UsbNoFreePort:
                    raise exception.UsbControllerInUse(
                        index=index, reason='the USB devices attached to '
                        '%s controllers would not fit on the remaining '
                        'ones; detach some first' % controller.model)
            self._save(instance, wanted)

    def _new_controller_request(self, instance, requests, model,
                                ports_count):
        indexes = [c.index for c in self._topology(
            instance, requests).controllers] + [0]
        return usb_requests.ControllerRequest(
            index=max(indexes) + 1, model=model, ports=ports_count)

    # Lifecycle

    def release(self, instance):
        with self.lock:
            released = self.claims.held_by(instance.uuid)
            self.claims.release_all(instance.uuid)
        if released:
            LOG.info('Released USB devices %s', ', '.join(released),
                     instance=instance)

    def check_can_live_migrate(self, instance):
        requests = self._load(instance)
        if requests.devices:
            raise nova_exception.MigrationPreCheckError(
                reason=exception.UsbLiveMigrationRefused(
                    server_id=instance.uuid,
                    devices=', '.join(r.id for r in requests.devices)
                ).format_message())

    # Helpers

    def _topology(self, instance, requests):
        """The USB topology the server has next time Nova writes it.

        For a stopped server: Nova's own USB controller and devices from
        its libvirt definition, plus what the requests add.
        """
        default_root = ports.UsbController(
            0, CONF.usb.default_controller_model,
            controllers.controller_ports(CONF.usb.default_controller_model))
        root = default_root if requests.devices else None
        own_devices = ()
        try:
            guest = self.driver._host.get_guest(instance)
            defined = ports.topology_from_xml(
                guest.get_xml_desc(dump_inactive=True))
        except nova_exception.InstanceNotFound:
            defined = None
        if defined is not None:
            # Nova's own controller, unless it disabled USB (model 'none',
            # which add_to_guest_config replaces when devices are wanted).
            root = next((c for c in defined.controllers if c.index == 0),
                        root)
            # Nova's own USB devices (its tablet, ...); not the hostdevs
            # (the requests say which come back) nor the hubs libvirt added
            # for them last time.
            own_devices = tuple(
                kind for kind in [u.kind for u in defined.used] +
                list(defined.unaddressed) if kind not in ('hostdev', 'hub'))
        planned = [root] if root else []
        for request in requests.controllers:
            planned.append(ports.UsbController(
                request.index, request.model,
                controllers.controller_ports(request.model, request.ports)))
        return ports.UsbTopology(
            tuple(planned), (),
            own_devices + ('hostdev',) * len(requests.devices))

    @staticmethod
    def _fresh(context, instance):
        return objects.Instance.get_by_uuid(
            context, instance.uuid, expected_attrs=['system_metadata'])

    @staticmethod
    def _load(instance):
        try:
            return usb_requests.load(instance.system_metadata)
        except exception.CorruptUsbRequests as e:
            LOG.error('%s', e, instance=instance)
            raise

    @staticmethod
    def _save(instance, requests):
        sysmeta = dict(instance.system_metadata)
        usb_requests.store(sysmeta, requests)
        instance.system_metadata = sysmeta
        instance.save()


def _server_lock(instance_uuid):
    return lockutils.lock('nova-usb-server-%s' % instance_uuid)


def _libvirt_message(error):
    get = getattr(error, 'get_error_message', None)
    return (get() if get else None) or str(error)


class _logged(object):
    """Run a compensating step; log (never raise) if it fails too, so the
    original error reaches the caller.
    """

    def __init__(self, message, instance):
        self.message = message
        self.instance = instance

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None:
            LOG.error('%s: %s', self.message, exc, instance=self.instance)
        return True
