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
               "read: %(reason)s")
    code = 500
