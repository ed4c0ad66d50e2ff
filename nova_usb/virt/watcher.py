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

"""Keeps a HostUsbInventory current from udev's hotplug events.

The watcher listens to udev's netlink socket in a native thread of its own
and applies each USB device uevent to the inventory, then hands what
changed to a callback (the compute driver uses it to log, report and
re-check what its servers are waiting for).
"""

import os
import select
import threading

from oslo_log import log as logging
import pyudev

from nova_usb.virt import inventory as inventory_mod

LOG = logging.getLogger(__name__)


class HotplugWatcher(object):

    def __init__(self, inventory, on_change=None, context=None):
        self._inventory = inventory
        self._on_change = on_change
        self._context = context or pyudev.Context()
        self._monitor = None
        self._thread = None
        self._stopping = threading.Event()
        self._stop_lock = threading.Lock()
        # stop() writes here to wake the watcher thread at once.
        self._wake_read, self._wake_write = None, None

    def start(self):
        """Listen, then scan: no event between the two is lost.

        An event that arrives for a device the scan already saw is applied
        again, which changes nothing.
        """
        if self._thread is not None:
            return
        self._monitor = pyudev.Monitor.from_netlink(self._context)
        self._monitor.filter_by(inventory_mod.SUBSYSTEM,
                                inventory_mod.DEVICE_TYPE)
        self._monitor.start()
        self._inventory.scan()
        self._stopping.clear()
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(
            target=self._run, name='nova-usb-hotplug', daemon=True)
        self._thread.start()

    def stop(self):
        """Stop watching; safe to call twice, or from two threads."""
        with self._stop_lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._stopping.set()
            os.write(self._wake_write, b'x')
            thread.join()
            for fd in (self._wake_read, self._wake_write):
                os.close(fd)
            self._monitor = None

    def _run(self):
        while not self._stopping.is_set():
            readable, _, _ = select.select(
                [self._monitor, self._wake_read], [], [])
            if self._monitor not in readable:
                continue
            try:
                # Not Monitor.poll(): it needs select.poll, which eventlet's
                # monkey patching removes (nova-compute may run either
                # way). The socket is readable and non-blocking, so this
                # reads the waiting event or returns None.
                device = self._monitor._receive_device()
            except EnvironmentError:
                # The kernel dropped events (ENOBUFS): what we hold may be
                # stale, so read everything again.
                LOG.warning('USB hotplug events were lost; rescanning the '
                            'host USB devices')
                self._inventory.scan()
                continue
            if device is not None:
                self.handle(device.action, device)

    def handle(self, action, udev_device):
        """Apply one uevent; never lets an error stop the watcher."""
        try:
            change = self._inventory.apply_uevent(action, udev_device)
            if change is None:
                return
            LOG.info('USB device %(action)s: %(id)s (%(vid)s:%(pid)s at '
                     '%(port)s)',
                     {'action': change.action, 'id': change.device.id,
                      'vid': change.device.vendor_id,
                      'pid': change.device.product_id,
                      'port': change.device.port_path})
            if self._on_change is not None:
                self._on_change(change)
        except Exception:
            LOG.exception('Failed to apply USB %s event for %s',
                          action, udev_device.sys_path)
