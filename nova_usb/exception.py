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

"""Every error nova-usb raises, each with its message and HTTP code.

They derive from Nova's own exception so that nova-api's fault wrapper turns
them into Nova-style faults with the right status code.
"""

from nova import exception as nova_exception


class NovaUsbException(nova_exception.NovaException):
    msg_fmt = "An unknown nova-usb error occurred."


class InvalidDeviceSpec(NovaUsbException):
    msg_fmt = ("Invalid [usb] device_spec entry %(index)d (%(entry)s): "
               "%(reason)s")
    code = 400


class InvalidUsbXml(NovaUsbException):
    msg_fmt = "Invalid USB device or controller definition: %(reason)s"
    code = 400


class UnknownControllerModel(NovaUsbException):
    msg_fmt = ("Unknown USB controller model '%(model)s'; known models: "
               "%(known)s.")
    code = 400


class InvalidControllerPorts(NovaUsbException):
    msg_fmt = ("USB controller model '%(model)s' %(reason)s")
    code = 400


class CorruptUsbRequests(NovaUsbException):
    msg_fmt = ("The stored USB requests (%(key)s) of this server cannot be "
               "read: %(reason)s. Nothing was changed; an operator must "
               "repair or remove them in the server's system metadata.")
    code = 409


class UsbInstanceInvalidState(NovaUsbException):
    msg_fmt = ("Cannot %(action)s while the server is in vm_state "
               "%(vm_state)s, task_state %(task_state)s; allowed only in "
               "vm_state %(allowed)s with no task in progress.")
    code = 409


class UsbDeviceNotFound(NovaUsbException):
    msg_fmt = "USB device %(device_id)s is not on host %(host)s."
    code = 404


class UsbDeviceNotAttached(NovaUsbException):
    msg_fmt = "USB device %(device_id)s is not attached to this server."
    code = 404


class UsbDeviceDetaching(NovaUsbException):
    msg_fmt = ("USB device %(device_id)s is being detached from this "
               "server; wait until the detach ends.")
    code = 409


class UsbDeviceAlreadyAttached(NovaUsbException):
    msg_fmt = "USB device %(device_id)s is already attached to this server."
    code = 409


class UsbDeviceNotAssignable(NovaUsbException):
    msg_fmt = "USB device %(device_id)s cannot be assigned: %(reason)s."
    code = 409


class UsbDeviceInUse(NovaUsbException):
    msg_fmt = "USB device %(device_id)s is held by server %(server_id)s."
    code = 409


class UsbNoFreePort(NovaUsbException):
    msg_fmt = "No free USB port for the device: %(reason)s"
    code = 409


class UsbControllerNotFound(NovaUsbException):
    msg_fmt = ("USB controller %(index)s of this server was not added "
               "through nova-usb.")
    code = 404


class UsbControllerInUse(NovaUsbException):
    msg_fmt = ("USB controller %(index)s cannot be removed: %(reason)s")
    code = 409


class UsbTooManyControllers(NovaUsbException):
    msg_fmt = ("A server can have at most %(limit)d USB controllers added "
               "through nova-usb.")
    code = 409


class UsbLiveMigrationRefused(NovaUsbException):
    msg_fmt = ("Server %(server_id)s holds host USB devices (%(devices)s) "
               "and cannot be live migrated: detach them first.")
    code = 409


class UsbHostRefused(NovaUsbException):
    msg_fmt = ("The compute host could not %(action)s the USB device: "
               "%(reason)s")
    code = 409


class UsbDeviceOnAnotherHost(NovaUsbException):
    msg_fmt = ("USB device %(device_id)s is on another compute host than "
               "the server: only the USB devices of the server's own host "
               "can be attached to it.")
    code = 409


class UsbDeviceUnknown(NovaUsbException):
    msg_fmt = ("USB device %(device_id)s was not found on any compute host "
               "that answered.")
    code = 404


class UsbComputeHostDown(NovaUsbException):
    msg_fmt = ("The compute service of %(host)s is down, so its USB devices "
               "cannot be read or changed now; nothing was changed. Try "
               "again when it is back.")
    code = 409


class UsbComputeHostNoAnswer(NovaUsbException):
    msg_fmt = ("The compute service of %(host)s did not answer (%(reason)s). "
               "Try again later.")
    code = 503


class UsbChangeNotMade(NovaUsbException):
    msg_fmt = ("The compute service of %(host)s did not complete the change "
               "in time (%(reason)s). It was not made, and the compute host "
               "will not make it later. Try again later.")
    code = 503


class UsbChangeInterrupted(NovaUsbException):
    msg_fmt = ("Another operation started on the server (task_state "
               "%(task_state)s) while its USB devices or controllers were "
               "being changed: the USB change was undone. Try again when "
               "that operation has finished.")
    code = 409


class UsbChangeNotSaved(NovaUsbException):
    msg_fmt = ("The compute host could not save the change (its conductor "
               "did not answer): it was undone. Try again later.")
    code = 503


class UsbDomainMissing(NovaUsbException):
    msg_fmt = ("The server has no libvirt domain on its compute host (it is "
               "being moved or deleted, or the host lost it): nothing was "
               "changed.")
    code = 409


class UsbServerBusy(NovaUsbException):
    msg_fmt = ("Another operation on the server is still running on its "
               "compute host (waited %(seconds)d s for it): nothing was "
               "changed. Try again when it has finished.")
    code = 409


class UsbChangeTooLate(NovaUsbException):
    msg_fmt = ("The request reached the compute host after nova-api had "
               "stopped waiting for it (%(late)d s late): nothing was "
               "changed.")
    code = 409


class UsbDeviceHeldElsewhere(NovaUsbException):
    """UsbDeviceInUse for callers who may not learn other servers' ids."""
    msg_fmt = ("USB device %(device_id)s is held by another server: it can "
               "be attached once that server releases it.")
    code = 409


class UsbDeviceNotOnServerHost(NovaUsbException):
    """A device id the server's host does not have, for callers who may
    not learn other hosts' devices: no other host is asked.
    """
    msg_fmt = ("USB device %(device_id)s is not on the server's host: only "
               "the USB devices of the server's own host can be attached to "
               "it (GET /servers/{server_id}/os-usb-devices?available=true "
               "lists them).")
    code = 404


class UsbDeviceIdMalformed(NovaUsbException):
    """A path that names a device with something no device id looks like."""
    msg_fmt = ("No USB device has the id %(device_id)s: USB device ids are "
               "lowercase UUIDs, exactly as the USB device lists show them.")
    code = 404


class UsbDeviceFromFlavor(NovaUsbException):
    msg_fmt = ("USB device %(device_id)s was given to the server by its "
               "flavor (placement allocated it at boot): it goes with the "
               "server's allocation and cannot be detached. Resize the "
               "server to a flavor that does not ask for it.")
    code = 409


class UsbPlacementUnavailable(NovaUsbException):
    msg_fmt = ("The compute host could not check USB device %(device_id)s "
               "in placement (%(reason)s), so it cannot tell whether a "
               "server being scheduled was given it: nothing was changed. "
               "Try again when placement answers.")
    code = 503


class UsbDeviceNotGranted(NovaUsbException):
    """Raised by the compute host; nova-api answers the caller as for a
    device not on the server's host (UsbDeviceNotOnServerHost).
    """
    msg_fmt = ("USB device %(device_id)s is not granted to project "
               "%(project_id)s.")
    code = 404


class UsbGrantRefused(NovaUsbException):
    msg_fmt = "USB device %(device_id)s cannot be granted: %(reason)s."
    code = 409


class UsbGrantsNotStored(NovaUsbException):
    msg_fmt = ("nova-api keeps no USB device grants: [usb_database] "
               "connection is not set. Grant devices in [usb] device_spec "
               "(\"projects\"), or configure nova-usb's database and run "
               "nova-usb-manage db sync.")
    code = 409


class UsbGrantNotFound(NovaUsbException):
    msg_fmt = ("Project %(project_id)s has no grant for USB device "
               "%(device_id)s.")
    code = 404


class UsbQuotaExceeded(NovaUsbException):
    msg_fmt = ("Quota exceeded for %(resource)s: attaching USB device "
               "%(device_id)s would take project %(project_id)s to "
               "%(used)d + 1, over its limit of %(limit)d. Detach a device "
               "of this kind, or ask an operator to raise the limit in "
               "keystone.")
    code = 403


class UsbQuotaUnchecked(NovaUsbException):
    msg_fmt = ("The quota of USB device %(device_id)s could not be checked "
               "in placement (%(reason)s): nothing was changed. Try again "
               "when placement answers.")
    code = 503
