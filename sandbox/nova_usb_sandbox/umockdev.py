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

"""A umockdev testbed driven through ctypes, as a test fixture.

umockdev gives the real libudev (and so pyudev) a fake /sys and a fake
uevent netlink socket. It is reached through ctypes on libumockdev.so.0
rather than through PyGObject, which would need a C toolchain and
introspection headers to install in a virtualenv.

A testbed redirects /sys only in a process that *started* with
libumockdev-preload.so.0 in LD_PRELOAD (run it under ``umockdev-wrapper``):
the preload library must be in place before libc resolves its first file
call. A testbed sets $UMOCKDEV_DIR for the whole process, so a process can
hold only one at a time; each test gets its own.

The test suites and nova-usb-sandbox (``--demo-devices``) share it, so it
ships in the package.
"""

import ctypes
import os
import re

import fixtures

PRELOAD_LIBRARY = 'libumockdev-preload.so.0'

_umockdev = ctypes.CDLL('libumockdev.so.0')
_glib = ctypes.CDLL('libglib-2.0.so.0')
_gobject = ctypes.CDLL('libgobject-2.0.so.0')


class _GError(ctypes.Structure):
    _fields_ = [('domain', ctypes.c_uint32),
                ('code', ctypes.c_int),
                ('message', ctypes.c_char_p)]


_GErrorP = ctypes.POINTER(_GError)
_Strv = ctypes.POINTER(ctypes.c_char_p)


def _declare(library, name, restype, *argtypes):
    function = getattr(library, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


_void_p = ctypes.c_void_p
_str = ctypes.c_char_p
# Functions returning an owned string are declared as returning void* so
# that the pointer can be handed back to g_free().
_g_free = _declare(_glib, 'g_free', None, _void_p)
_g_error_free = _declare(_glib, 'g_error_free', None, _GErrorP)
_g_object_unref = _declare(_gobject, 'g_object_unref', None, _void_p)
_testbed_new = _declare(_umockdev, 'umockdev_testbed_new', _void_p)
_testbed_get_root_dir = _declare(
    _umockdev, 'umockdev_testbed_get_root_dir', _void_p, _void_p)
_testbed_get_sys_dir = _declare(
    _umockdev, 'umockdev_testbed_get_sys_dir', _void_p, _void_p)
_testbed_add_from_string = _declare(
    _umockdev, 'umockdev_testbed_add_from_string', ctypes.c_int,
    _void_p, _str, ctypes.POINTER(_GErrorP))
_testbed_add_devicev = _declare(
    _umockdev, 'umockdev_testbed_add_devicev', _void_p,
    _void_p, _str, _str, _str, _Strv, _Strv)
_testbed_uevent = _declare(
    _umockdev, 'umockdev_testbed_uevent', None, _void_p, _str, _str)
_testbed_remove_device = _declare(
    _umockdev, 'umockdev_testbed_remove_device', None, _void_p, _str)


class TestbedError(Exception):
    """umockdev refused a request; the message is umockdev's own."""


def is_preloaded():
    """Whether libumockdev-preload is mapped into this process.

    Looking at the mapped libraries rather than at $LD_PRELOAD tells what
    the process started with, not what someone set afterwards.
    """
    with open('/proc/self/maps') as maps:
        return PRELOAD_LIBRARY.rsplit('.so', 1)[0] in maps.read()


def _owned_string(pointer):
    try:
        return ctypes.string_at(pointer).decode()
    finally:
        _g_free(pointer)


def _strv(pairs):
    flat = [v.encode() if isinstance(v, str) else v
            for pair in pairs for v in pair]
    return (ctypes.c_char_p * (len(flat) + 1))(*flat, None)


_DEVICE_PATH = re.compile(r'^P: (/devices/\S+)$', re.MULTILINE)
_SUBSYSTEM = re.compile(r'^E: SUBSYSTEM=(\S+)$', re.MULTILINE)
_NODE = re.compile(r'^N: ([^=\s]+)', re.MULTILINE)


class Testbed(fixtures.Fixture):
    """One umockdev testbed, released (and its tree deleted) on cleanup."""

    def _setUp(self):
        self._testbed = _testbed_new()
        if not self._testbed:
            raise TestbedError('umockdev_testbed_new() failed')
        self.addCleanup(self._release)
        self.root_dir = _owned_string(_testbed_get_root_dir(self._testbed))
        self.sys_dir = _owned_string(_testbed_get_sys_dir(self._testbed))

    def _release(self):
        # Finalising the testbed deletes its directory and unsets
        # $UMOCKDEV_DIR, so /sys is the real one again.
        _g_object_unref(self._testbed)
        self._testbed = None

    def real_path(self, sys_path):
        """Where a /sys path of the testbed lives on the real disk."""
        return os.path.join(self.root_dir, sys_path.lstrip('/'))

    def add_from_string(self, recording):
        """Add the devices of a recording in umockdev-record's format.

        In a preloaded process umockdev sends an 'add' uevent for each
        device, as the kernel would. A device that already exists would
        make umockdev abort the whole process, so that is refused here
        with an exception instead.
        """
        if isinstance(recording, str):
            recording = recording.encode()
        self._refuse_existing(recording.decode('ascii', 'replace'))
        error = _GErrorP()
        if not _testbed_add_from_string(self._testbed, recording,
                                        ctypes.byref(error)):
            message = 'add_from_string failed'
            if error:
                message = error.contents.message.decode('utf-8', 'replace')
                _g_error_free(error)
            raise TestbedError(message)

    def add_from_file(self, path):
        with open(path, 'rb') as recording:
            self.add_from_string(recording.read())

    def add_devicev(self, subsystem, name, parent=None, attributes=(),
                    properties=()):
        """Add one device; attributes and properties are (key, value)s.

        Returns the device's sysfs path ("/sys/devices/..."). Sends an
        'add' uevent in a preloaded process.
        """
        pointer = _testbed_add_devicev(
            self._testbed, subsystem.encode(), name.encode(),
            parent.encode() if parent else None,
            _strv(attributes), _strv(properties))
        if not pointer:
            raise TestbedError('umockdev could not add device %s' % name)
        return _owned_string(pointer)

    def uevent(self, sys_path, action):
        """Send a uevent for a device that is still in the testbed."""
        self._require(sys_path)
        _testbed_uevent(self._testbed, sys_path.encode(), action.encode())

    def remove_device(self, sys_path):
        """Remove a device and its children from /sys.

        umockdev 0.17 sends no uevent for this (0.18.4 and later send a
        'remove'); send one with uevent() first to tell listeners.
        """
        self._require(sys_path)
        _testbed_remove_device(self._testbed, sys_path.encode())

    def _require(self, sys_path):
        if not os.path.isfile(os.path.join(self.real_path(sys_path),
                                           'uevent')):
            raise TestbedError('no device %s in the testbed' % sys_path)

    def _refuse_existing(self, text):
        for record in text.split('\n\n'):
            path = _DEVICE_PATH.search(record)
            subsystem = _SUBSYSTEM.search(record)
            if not path:
                continue
            device = os.path.join(self.sys_dir, path.group(1).lstrip('/'))
            name = os.path.basename(path.group(1))
            taken = [os.path.join(device, 'uevent')]
            if subsystem:
                taken += [
                    os.path.join(self.sys_dir, 'bus', subsystem.group(1),
                                 'devices', name),
                    os.path.join(self.sys_dir, 'class', subsystem.group(1),
                                 name)]
            node = _NODE.search(record)
            if node:
                taken += [os.path.join(self.root_dir, 'dev', node.group(1)),
                          os.path.join(self.root_dir, 'dev', '.node',
                                       node.group(1).replace('/', '_'))]
            if any(os.path.lexists(p) for p in taken):
                raise TestbedError(
                    'device %s, its name or its device node is already in '
                    'the testbed' % path.group(1))
