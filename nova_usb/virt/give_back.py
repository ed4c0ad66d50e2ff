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

"""Devices given back to their server when they are plugged in again.

Mixed into nova_usb.virt.manager.UsbManager, whose lock, claims,
inventory and refusal rule it uses.
"""

import threading

from nova import context as nova_context
from nova import exception as nova_exception
from oslo_log import log as logging

from nova_usb import states
from nova_usb.virt import guest as usb_guest
from nova_usb.virt import inventory as usb_inventory
from nova_usb.virt import reconcile

LOG = logging.getLogger(__name__)


class GiveBack(object):
    """Mixed into UsbManager."""

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

        Only when the device may still be assigned (the same rule as an
        attach) and has the interfaces it had at attach. Stopped servers
        get it when Nova next writes the domain;
        a failure is logged and the device comes back at the next hard
        reboot or restart of nova-compute.
        """
        context = nova_context.get_admin_context()
        try:
            with self._server(context, instance_uuid, None) as instance:
                if (states.DEVICE_CHANGE.get(instance.vm_state) !=
                        states.LIVE or instance.task_state is not None):
                    return
                request = self._load(instance).device(device_id)
                if request is None:
                    return
                device, reason = self._usable(request, instance.uuid)
                if reason:
                    LOG.warning('USB device %s is back on the host but is '
                                '%s: not given back to the server',
                                device_id, reason, instance=instance)
                    return
                reconcile.give_back(
                    usb_guest.UsbGuest(self.driver, instance), device,
                    request.controller_model)
        except nova_exception.InstanceNotFound:
            return
        except Exception as e:
            LOG.error('Could not give USB device %s back to server %s: %s; '
                      'it comes back when Nova next writes the domain '
                      '(hard reboot)', device_id, instance_uuid, e)
