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

"""JSON schemas of nova-usb's REST API: request bodies, query strings and
responses (nova.api.validation).

Request schemas bound every value (lengths, ranges) and refuse unknown
keys, so a malformed request is a 400 before anything else runs. Whether a
controller model is known, and how many ports it can have, is left to
nova_usb.virt.controllers, the one place that knows, whose message lists the
known models. Responses are checked too (Nova does it in its tests), with
additionalProperties false, so that nothing reaches a client unnoticed.
"""

import copy
import re

from nova.api.validation import parameter_types
from nova_usbclient import controller_models
from nova_usbclient import statuses

# Device ids exactly as nova-usb issues them (nova_usb.virt.usb_device
# device_id): name-based UUIDs (version 5, RFC 4122 variant) in str(uuid)'s
# lowercase form. Opaque to clients; any other spelling, uppercase
# included, is not an id nova-usb issued, so it is refused rather than
# normalised. The lengths keep "$" from accepting a trailing newline.
DEVICE_ID_PATTERN = ('^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-'
                     '[0-9a-f]{12}$')
device_id = {'type': 'string', 'minLength': 36, 'maxLength': 36,
             'pattern': DEVICE_ID_PATTERN}
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN[1:-1])


def is_device_id(value):
    """Whether ``value`` is a device id nova-usb could have issued:
    anything else names no device.
    """
    return isinstance(value, str) and bool(_DEVICE_ID.fullmatch(value))


def is_path_device_id(req, value):
    """Whether ``value``, the device id the router found at the end of
    ``req``'s path, is one nova-usb could have issued, and the whole last
    segment of the path: the router drops a trailing newline.
    """
    return (is_device_id(value) and
            req.path_info.rpartition('/')[2] == value)


# Nova's service host names are free-form strings of up to 255 characters.
host = {'type': 'string', 'minLength': 1, 'maxLength': 255}

controller_model = {'type': 'string', 'minLength': 1, 'maxLength': 64}

attach = {
    'type': 'object',
    'properties': {
        'usb_device': {
            'type': 'object',
            'properties': {
                'id': device_id,
                'controller_model': {
                    'oneOf': [controller_model, {'type': 'null'}]},
            },
            'required': ['id'],
            'additionalProperties': False,
        },
    },
    'required': ['usb_device'],
    'additionalProperties': False,
}

add_controller = {
    'type': 'object',
    'properties': {
        'usb_controller': {
            'type': 'object',
            'properties': {
                'model': controller_model,
                'ports': {
                    'oneOf': [{'type': 'integer', 'minimum': 1,
                               'maximum': controller_models.XHCI_MAX_PORTS},
                              {'type': 'null'}]},
            },
            'required': ['model'],
            'additionalProperties': False,
        },
    },
    'required': ['usb_controller'],
    'additionalProperties': False,
}

host_devices_query = {
    'type': 'object',
    'properties': {
        'host': parameter_types.single_param(host),
    },
    'required': ['host'],
    'additionalProperties': False,
}

host_device_query = {
    'type': 'object',
    'properties': {
        'host': parameter_types.single_param(host),
    },
    'additionalProperties': False,
}

server_devices_query = {
    'type': 'object',
    'properties': {
        'available': parameter_types.single_param(parameter_types.boolean),
    },
    'additionalProperties': False,
}

no_query = {
    'type': 'object',
    'properties': {},
    'additionalProperties': False,
}

_nullable_string = {'type': ['string', 'null']}

_device = {
    'type': 'object',
    'properties': {
        'id': {'type': 'string'},
        'host': _nullable_string,
        'vendor_id': {'type': 'string'},
        'product_id': {'type': 'string'},
        'vendor_name': _nullable_string,
        'product_name': _nullable_string,
        'serial': _nullable_string,
        'bus': {'type': ['integer', 'null']},
        'devnum': {'type': ['integer', 'null']},
        'port_path': _nullable_string,
        'speed': {'type': ['number', 'null']},
        'device_class': _nullable_string,
        'interface_classes': {'type': ['array', 'null'],
                              'items': {'type': 'string'}},
        'is_hub': {'type': ['boolean', 'null']},
        'assignable': {'type': ['boolean', 'null']},
        'reason': _nullable_string,
        'server_id': _nullable_string,
    },
    'required': ['id', 'vendor_id', 'product_id', 'assignable', 'reason'],
    'additionalProperties': False,
}

_host_device = copy.deepcopy(_device)
_host_device['properties']['use'] = {
    'type': ['string', 'null'], 'enum': ['any', 'api', 'flavor', None]}
_host_device['required'] += ['host', 'server_id', 'use']

_server_device = copy.deepcopy(_device)
_server_device['properties'].update({
    'status': {'type': 'string', 'enum': list(statuses.STATUSES)},
    'controller_model': _nullable_string,
})
_server_device['required'].append('status')

host_devices_response = {
    'type': 'object',
    'properties': {
        'usb_devices': {'type': 'array', 'items': _host_device},
    },
    'required': ['usb_devices'],
    'additionalProperties': False,
}

host_device_response = {
    'type': 'object',
    'properties': {'usb_device': _host_device},
    'required': ['usb_device'],
    'additionalProperties': False,
}

# ?available=true lists host devices through the server routes.
server_devices_response = {
    'type': 'object',
    'properties': {
        'usb_devices': {'type': 'array',
                        'items': {'oneOf': [_server_device, _device]}},
    },
    'required': ['usb_devices'],
    'additionalProperties': False,
}

server_device_response = {
    'type': 'object',
    'properties': {'usb_device': _server_device},
    'required': ['usb_device'],
    'additionalProperties': False,
}

_controller = {
    'type': 'object',
    'properties': {
        'index': {'type': 'integer'},
        'model': {'type': 'string'},
        # Always known: see records.Controller.
        'ports': {'type': 'integer'},
        'used_ports': {'type': 'integer'},
        'removable': {'type': 'boolean'},
    },
    'required': ['index', 'model', 'ports', 'used_ports', 'removable'],
    'additionalProperties': False,
}

controllers_response = {
    'type': 'object',
    'properties': {
        'usb_controllers': {'type': 'array', 'items': _controller},
    },
    'required': ['usb_controllers'],
    'additionalProperties': False,
}

controller_response = {
    'type': 'object',
    'properties': {'usb_controller': _controller},
    'required': ['usb_controller'],
    'additionalProperties': False,
}

empty_response = {'type': 'null'}

# Keystone project ids as Nova stores them (String(255)); keystone checks
# that the project exists.
project_id = {'type': 'string', 'minLength': 1, 'maxLength': 255,
              'pattern': '^[^\\s/]+$'}
_PROJECT_ID = re.compile(project_id['pattern'][1:-1])


def is_path_project_id(req, value):
    """Whether ``value``, the project id at the end of ``req``'s path, is
    one keystone could have issued, and the whole last segment.
    """
    return (isinstance(value, str) and 0 < len(value) <= 255 and
            bool(_PROJECT_ID.fullmatch(value)) and
            req.path_info.rpartition('/')[2] == value)


_grant = {
    'type': 'object',
    'properties': {
        'project_id': {'type': 'string'},
        'source': {'type': 'string', 'enum': ['device_spec', 'grant']},
    },
    'required': ['project_id', 'source'],
    'additionalProperties': False,
}

grants_response = {
    'type': 'object',
    'properties': {
        'usb_device_grants': {'type': 'array', 'items': _grant},
    },
    'required': ['usb_device_grants'],
    'additionalProperties': False,
}

grant_response = {
    'type': 'object',
    'properties': {'usb_device_grant': _grant},
    'required': ['usb_device_grant'],
    'additionalProperties': False,
}
