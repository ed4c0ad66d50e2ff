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

The compute host's records (nova_usb.records) are cut to the documented
fields, so that the API's shape does not follow the driver's internals,
and every field is always present (null when unknown, for instance for a
device missing from the host). Host names and holders are shown only to
callers allowed to see them (policy
``nova_usb:server-devices:show:host_details`` in the server routes; the
host routes are for operators anyway).

Strings a device reports about itself (vendor and product names, serial
number) are whatever its firmware says. Their control characters are shown
escaped, as Python writes them (ESC as the four characters ``\\x1b``, a
newline as ``\\n``), so that no device can move a terminal's cursor, colour
or clear it, or start a new line, in a client that prints them. Characters
that change how text around them is laid out (bidirectional overrides,
zero-width characters, line and paragraph separators) and lone surrogates
are escaped too (``\\u202e``); every other character, printable non-ASCII
included, is shown as it is. Every string of a device is escaped the same
way, ids and names that cannot hold such characters being left unchanged.
"""

import unicodedata

DEVICE_FIELDS = ('id', 'vendor_id', 'product_id', 'vendor_name',
                 'product_name', 'serial', 'bus', 'devnum', 'port_path',
                 'speed', 'device_class', 'interface_classes', 'is_hub',
                 'assignable', 'reason')
HOST_DETAILS = ('host', 'server_id')
# How the device's [usb] device_spec rule lets it be used (any, api or
# flavor): for operators, in the host routes.
RULE_DETAILS = ('use',)
ATTACHMENT_FIELDS = ('status', 'controller_model')
CONTROLLER_FIELDS = ('index', 'model', 'ports', 'used_ports', 'removable')


# Unicode categories shown escaped: controls (C0, DEL, C1), format
# characters, surrogates, line and paragraph separators.
_ESCAPED_CATEGORIES = frozenset(('Cc', 'Cf', 'Cs', 'Zl', 'Zp'))
_NAMED_ESCAPES = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}


def _escape_char(char):
    if unicodedata.category(char) not in _ESCAPED_CATEGORIES:
        return char
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    if code <= 0xff:
        return '\\x%02x' % code
    if code <= 0xffff:
        return '\\u%04x' % code
    return '\\U%08x' % code


def escape(value):
    """``value`` with its control characters escaped (strings, and the
    strings of a list); any other value as it is.
    """
    if isinstance(value, str):
        if value.isprintable():
            return value
        return ''.join(_escape_char(char) for char in value)
    if isinstance(value, (list, tuple)):
        return [escape(item) for item in value]
    return value


def shown_id(value, limit=64):
    """A device id from a request, as an error message may quote it:
    escaped, and cut after ``limit`` characters.
    """
    if len(value) > limit:
        value = value[:limit] + '...'
    return escape(value)


def _pick(record, fields):
    return {field: escape(getattr(record, field)) for field in fields}


def host_device(device):
    """``device``: a records.HostDevice."""
    return _pick(device, DEVICE_FIELDS + HOST_DETAILS + RULE_DETAILS)


def available_device(device, host_details):
    """``device``: a records.HostDevice."""
    return _pick(device,
                 DEVICE_FIELDS + (HOST_DETAILS if host_details else ()))


def server_device(device, host_details):
    """``device``: a records.ServerDevice."""
    return _pick(device, DEVICE_FIELDS + ATTACHMENT_FIELDS + (
        HOST_DETAILS if host_details else ()))


def controller(record):
    """``record``: a records.Controller."""
    return _pick(record, CONTROLLER_FIELDS)
