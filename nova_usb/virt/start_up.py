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

"""nova-compute's start: the claims rebuilt from the stored requests, and
every server's domain and allocation brought to them (after a crash, the
requests win: nova_usb.virt.reconcile).

Mixed into nova_usb.virt.manager.UsbManager, whose watcher, lock, claims,
inventory, device_spec rules and changes it uses.
"""

from nova import exception as nova_exception
from oslo_log import log as logging

from nova_usb import actions
from nova_usb.db import server_requests
from nova_usb import exception
from nova_usb import states
from nova_usb.virt import claims as usb_claims
from nova_usb.virt import devspec
from nova_usb.virt import guest as usb_guest
from nova_usb.virt import reconcile

LOG = logging.getLogger(__name__)


class StartUp(object):
    """Mixed into UsbManager."""

    def start(self, context):
        """Scan and watch the host, rebuild the claims from the stored
        requests, then bring every server's domain to its requests
        (nova_usb.virt.reconcile: after a crash, the requests win).
        """
        self.watcher.start()
        instances = server_requests.list_on_host(context, self.host)
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
                        self.claims.claim(request.id, instance.uuid,
                                          allocated=bool(request.allocated))
                    except exception.UsbDeviceInUse as e:
                        LOG.error('Two servers on this host request the same '
                                  'USB device: %s', e, instance=instance)
        for instance in instances:
            if instance.uuid in wanted:
                self._revoke_disallowed(context, instance,
                                        wanted[instance.uuid])
                self._reconcile(context, instance)
                self.free_unrequested(context, instance,
                                      wanted[instance.uuid])
                self.count_in_placement(context, instance)
        LOG.info('nova-usb: %d USB devices on host %s, %d claimed',
                 len(self.inventory.devices()), self.host,
                 len(self.claims.snapshot()))

    def _revoke_disallowed(self, context, instance, requests):
        """Detach the devices the server holds through the API that [usb]
        device_spec no longer lets the API hand out (no rule selects them,
        or their rule is for flavors only now), as server action
        ``usb_revoke``, which the server's owner reads in its events with
        the reason, and its notifications.

        Only devices on the host now are judged (a rule is matched against
        a device's serial and port); a server in a state that forbids a
        detach keeps the device until nova-compute's next start, which is
        logged. Devices the flavor gave are Nova's allocation's, not the
        API's.
        """
        for request in requests.devices:
            device = self.inventory.get(request.id)
            if request.allocated or device is None:
                continue
            reason = devspec.api_refusal(self.specs, device)
            if reason is None:
                continue
            try:
                with actions.server_action(
                        context, instance, actions.REVOKE,
                        publisher=actions.COMPUTE_PUBLISHER,
                        device_id=request.id, vendor_id=request.vendor_id,
                        product_id=request.product_id):
                    self.detach_device(context, instance, request.id)
            except Exception as e:
                LOG.warning('USB device %s is %s, but could not be taken '
                            'from the server: %s; nova-compute tries again '
                            'at its next start', request.id, reason, e,
                            instance=instance)
                continue
            LOG.warning('USB device %s detached from the server: it is %s',
                        request.id, reason, instance=instance)

    def _reconcile(self, context, instance):
        try:
            with self._server(context, instance.uuid, None) as server:
                mode = states.DEVICE_CHANGE.get(server.vm_state)
                guest = usb_guest.UsbGuest.find(self.driver, server)
                if guest is None:
                    return
                if states.build_cut_short(server):
                    changed = reconcile.take_out_unrequested(
                        guest, self._load(server))
                elif mode is None or server.task_state:
                    return
                else:
                    changed = reconcile.reconcile(
                        guest, self._load(server), mode,
                        lambda r: self._usable(r, server.uuid)[0])
                if guest.foreign_hostdevs():
                    LOG.warning('The guest has a USB host device that '
                                'nova-usb did not attach (aliases %s); Nova '
                                'drops it the next time it writes the '
                                'domain', guest.foreign_hostdevs(),
                                instance=instance)
            if changed:
                LOG.warning('USB devices %s of the domain did not match the '
                            'stored requests (nova-compute stopped during '
                            'a change, or a device came back while it was '
                            'down): the domain now matches the requests',
                            ', '.join(changed), instance=instance)
        except (exception.NovaUsbException,
                nova_exception.InstanceNotFound) as e:
            LOG.warning('USB devices of the server not checked against its '
                        'requests: %s', e, instance=instance)
