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

"""The columns both CLIs show, so that ``nova`` and ``openstack`` tables of
the same thing read the same: (heading, field of the API's answer).

Lists show what a person picks a device by and why it is or is not
available; OpenStackClient's ``--long`` and its ``show`` commands add the
rest (bus and device numbers change at every replug, so they are details).
"""

_DEVICE = (
    ('ID', 'id'),
    ('Vendor ID', 'vendor_id'),
    ('Product ID', 'product_id'),
    ('Vendor', 'vendor_name'),
    ('Product', 'product_name'),
    ('Serial', 'serial'),
)

HOST_DEVICE = _DEVICE + (
    ('Port Path', 'port_path'),
    ('Assignable', 'assignable'),
    ('Use', 'use'),
    ('Reason', 'reason'),
    ('Server ID', 'server_id'),
)

AVAILABLE_DEVICE = _DEVICE + (
    ('Port Path', 'port_path'),
)

SERVER_DEVICE = _DEVICE + (
    ('Status', 'status'),
    ('Controller Model', 'controller_model'),
)

DEVICE_DETAILS = (
    ('Host', 'host'),
    ('Bus', 'bus'),
    ('Devnum', 'devnum'),
    ('Speed', 'speed'),
    ('Device Class', 'device_class'),
    ('Interface Classes', 'interface_classes'),
    ('Hub', 'is_hub'),
)

GRANT = (
    ('Project ID', 'project_id'),
    ('Source', 'source'),
)

CONTROLLER = (
    ('Index', 'index'),
    ('Model', 'model'),
    ('Ports', 'ports'),
    ('Used Ports', 'used_ports'),
    ('Removable', 'removable'),
)
