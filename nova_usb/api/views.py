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

"""What a client sees of a device or a controller.

The compute host's descriptions are cut to the documented fields, so that
the API's shape does not follow the driver's internals, and every field is
always present (null when unknown, for instance for a device missing from
the host). Host names and holders are shown only to callers allowed to see
them (policy ``nova_usb:server-devices:show:host_details`` in the server
routes; the host routes are for operators anyway).
"""

DEVICE_FIELDS = ('id', 'vendor_id', 'product_id', 'vendor_name',
                 'product_name', 'serial', 'bus', 'devnum', 'port_path',
                 'speed', 'device_class', 'interface_classes', 'is_hub',
                 'assignable', 'reason')
HOST_DETAILS = ('host', 'server_id')
ATTACHMENT_FIELDS = ('status', 'controller_model')
CONTROLLER_FIELDS = ('index', 'model', 'ports', 'used_ports', 'removable')


def _pick(description, fields):
    return {field: description.get(field) for field in fields}


def host_device(description):
    return _pick(description, DEVICE_FIELDS + HOST_DETAILS)


def available_device(description, host_details):
    return _pick(description,
                 DEVICE_FIELDS + (HOST_DETAILS if host_details else ()))


def server_device(description, host_details):
    return _pick(description, DEVICE_FIELDS + ATTACHMENT_FIELDS + (
        HOST_DETAILS if host_details else ()))


def controller(description):
    return _pick(description, CONTROLLER_FIELDS)
