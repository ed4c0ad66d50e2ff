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

"""What USB devices and controllers a server should have, as stored.

The requests live in the server's ``instance_system_metadata``, under
``usb_devices_requests`` and ``usb_controller_requests``, so that they
follow the server wherever Nova keeps its records and are gone when the
server is. Values there are ``String(255)`` (MySQL enforces it, SQLite does
not), so each request list is written as compact JSON cut into chunks of at
most 255 characters: the first chunk under the key itself, the next ones
under ``<key>.1``, ``<key>.2``, ... Nothing is ever truncated: a read
joins every chunk back, and a list that does not decode is an error, never
an empty list.

This module only turns requests into system metadata entries and back; the
compute driver saves the instance, one writer per host at a time.
"""

import dataclasses
import typing as ty

from oslo_serialization import jsonutils

from nova_usb import exception

DEVICES_KEY = 'usb_devices_requests'
CONTROLLERS_KEY = 'usb_controller_requests'
# instance_system_metadata.value is String(255)
MAX_VALUE_LENGTH = 255


@dataclasses.dataclass(frozen=True)
class DeviceRequest:
    """A host USB device the server should have.

    vendor and product are kept so that a device absent from the host can
    still be described (and put in the XML once it is back). ``allocated``
    is True for a device placement allocated to the server because its
    flavor asks for it (nova_usb.virt.placement): such a device goes with
    the server's allocation, not through the API.

    ``interface_classes`` are the device's interface classes when the
    server got it: the id only says vendor, product and serial, which a
    cloned descriptor repeats, so a device that comes back under the same
    id with other interfaces (a token that now has a keyboard too) is not
    given back. None for requests stored before they were recorded: for
    those nothing can be checked.
    """

    id: str
    vendor_id: str
    product_id: str
    controller_model: ty.Optional[str] = None
    allocated: ty.Optional[bool] = None
    interface_classes: ty.Optional[ty.Tuple[str, ...]] = None

    def __post_init__(self):
        # JSON gives a list back; a sorted tuple keeps requests comparable
        # and hashable, whatever order the classes were read in.
        classes = self.interface_classes
        if classes is None:
            return
        if (not isinstance(classes, (list, tuple)) or
                not all(isinstance(c, str) for c in classes)):
            raise TypeError('interface_classes must be a list of strings, '
                            'not %r' % (classes,))
        object.__setattr__(self, 'interface_classes',
                           tuple(sorted(set(classes))))


@dataclasses.dataclass(frozen=True)
class ControllerRequest:
    """A USB controller added to the server."""

    index: int
    model: str
    ports: ty.Optional[int] = None


@dataclasses.dataclass(frozen=True)
class UsbRequests:
    devices: ty.Tuple[DeviceRequest, ...] = ()
    controllers: ty.Tuple[ControllerRequest, ...] = ()

    def device(self, device_id):
        for request in self.devices:
            if request.id == device_id:
                return request
        return None

    def controller(self, index):
        for request in self.controllers:
            if request.index == index:
                return request
        return None

    def with_device(self, request):
        return dataclasses.replace(self, devices=self.devices + (request,))

    def without_device(self, device_id):
        return dataclasses.replace(self, devices=tuple(
            r for r in self.devices if r.id != device_id))

    def with_allocated(self, requests):
        """These requests, with ``requests`` (DeviceRequests) instead of the
        devices allocated before.
        """
        return dataclasses.replace(self, devices=tuple(
            r for r in self.devices if not r.allocated) + tuple(requests))

    def with_controller(self, request):
        return dataclasses.replace(
            self, controllers=self.controllers + (request,))

    def without_controller(self, index):
        return dataclasses.replace(self, controllers=tuple(
            r for r in self.controllers if r.index != index))


def _chunk_key(key, number):
    return key if number == 0 else '%s.%d' % (key, number)


def _read_text(system_metadata, key):
    chunks = []
    while _chunk_key(key, len(chunks)) in system_metadata:
        chunks.append(system_metadata[_chunk_key(key, len(chunks))] or '')
    return ''.join(chunks) if chunks else None


def _write_text(system_metadata, key, text):
    """Replace every chunk of ``key``; no chunk for None."""
    number = 0
    while _chunk_key(key, number) in system_metadata:
        del system_metadata[_chunk_key(key, number)]
        number += 1
    if text is None:
        return
    for number, start in enumerate(range(0, len(text), MAX_VALUE_LENGTH)):
        system_metadata[_chunk_key(key, number)] = (
            text[start:start + MAX_VALUE_LENGTH])


def _decode(system_metadata, key, request_class):
    text = _read_text(system_metadata, key)
    if text is None:
        return ()
    try:
        entries = jsonutils.loads(text)
        return tuple(request_class(**entry) for entry in entries)
    except (ValueError, TypeError) as e:
        raise exception.CorruptUsbRequests(key=key, reason=str(e))


def _encode(requests):
    if not requests:
        return None
    entries = [{k: v for k, v in dataclasses.asdict(r).items()
                if v is not None} for r in requests]
    # ASCII only: 255 characters are then 255 bytes whatever the charset.
    return jsonutils.dumps(entries, separators=(',', ':'), sort_keys=True,
                           ensure_ascii=True)


def load(system_metadata):
    """The UsbRequests stored in a server's system metadata dict."""
    return UsbRequests(
        devices=_decode(system_metadata, DEVICES_KEY, DeviceRequest),
        controllers=_decode(system_metadata, CONTROLLERS_KEY,
                            ControllerRequest))


def store(system_metadata, requests):
    """Write ``requests`` into a system metadata dict, in place.

    Only nova-usb's keys change; the caller saves the instance.
    """
    _write_text(system_metadata, DEVICES_KEY, _encode(requests.devices))
    _write_text(system_metadata, CONTROLLERS_KEY,
                _encode(requests.controllers))
