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

"""Which server holds which USB device of this host.

The compute host is the only authority for its devices. Claims are kept in
memory, changed only under the host's USB lock, rebuilt from the servers'
system metadata when nova-compute starts, and cover stopped servers too
(libvirt only knows the devices of running domains).
"""

from nova_usb import exception


class UsbClaims(object):
    """device id -> uuid of the server holding it. Not thread-safe by
    itself: callers hold the host's USB lock.
    """

    def __init__(self):
        self._holders = {}
        # Devices their holder has because placement allocated them to it
        # (its flavor asks for them); the others are held through the API
        # and joined the server's allocation (nova_usb.virt.placement).
        self._allocated = set()

    def holder(self, device_id):
        return self._holders.get(device_id)

    def held_by(self, instance_uuid):
        return sorted(d for d, holder in self._holders.items()
                      if holder == instance_uuid)

    def check(self, device_id, instance_uuid):
        holder = self._holders.get(device_id)
        if holder is not None and holder != instance_uuid:
            raise exception.UsbDeviceInUse(device_id=device_id,
                                           server_id=holder)

    def claim(self, device_id, instance_uuid, allocated=False):
        """Claim for the server; ``allocated``: placement allocated the
        device to it. Claiming a device the server holds again keeps how
        it got it.
        """
        self.check(device_id, instance_uuid)
        self._holders[device_id] = instance_uuid
        if allocated:
            self._allocated.add(device_id)

    def release(self, device_id, instance_uuid):
        if self._holders.get(device_id) == instance_uuid:
            del self._holders[device_id]
            self._allocated.discard(device_id)

    def release_all(self, instance_uuid):
        for device_id in self.held_by(instance_uuid):
            self.release(device_id, instance_uuid)

    def through_api(self, instance_uuid):
        """The devices the server holds through the API."""
        return [d for d in self.held_by(instance_uuid)
                if d not in self._allocated]

    def snapshot(self):
        return dict(self._holders)

    def restore(self, snapshot):
        self._holders = dict(snapshot)
        self._allocated &= set(self._holders)
