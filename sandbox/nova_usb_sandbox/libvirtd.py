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


"""Is there a real libvirtd for the sandbox's guests? Start one if not.

A libvirtd that answers at qemu:///system is used as it is and never
stopped. Otherwise, when this process is root and libvirtd, virtlogd and
QEMU are installed, the sandbox starts ``virtlogd`` (QEMU's logs go
through it; without it no domain starts) and ``libvirtd`` itself, in the
foreground as its own children, so their pids are exact, and stops exactly
those processes when it stops, after destroying its own guests. Anything
else means no real libvirt: the sandbox falls back to fakelibvirt and says
why.

The daemons never inherit umockdev's LD_PRELOAD: libvirtd cannot run under
umockdev.
"""

import logging
import os
import shutil
import socket
import subprocess
import time

URI = 'qemu:///system'
START_TIMEOUT = 30
STOP_TIMEOUT = 15
VIRTLOGD_SOCKET = '/run/libvirt/virtlogd-sock'
LIBVIRTD_PIDFILE = '/run/libvirtd.pid'
QEMU_BINARIES = ('qemu-system-x86_64', 'qemu-kvm', 'kvm')

LOG = logging.getLogger(__name__)


class Unavailable(Exception):
    """No real libvirt here; the message says why, for the printout."""


class NotInstalled(Unavailable):
    """This machine lacks a part (QEMU, libvirtd, libvirt-python)."""


def _which(name):
    path = os.pathsep.join([os.environ.get('PATH', ''), '/usr/sbin',
                            '/sbin', '/usr/libexec'])
    return shutil.which(name, path=path)


def _socket_answers(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        return True
    except OSError:
        return False
    finally:
        sock.close()


def _pidfile_alive(path):
    try:
        with open(path) as pidfile:
            os.kill(int(pidfile.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def _clean_env():
    """This process's environment without umockdev's preload."""
    env = dict(os.environ)
    env.pop('UMOCKDEV_DIR', None)
    preload = [p for p in env.pop('LD_PRELOAD', '').split(':')
               if p and 'umockdev' not in p]
    if preload:
        env['LD_PRELOAD'] = ':'.join(preload)
    return env


class Libvirtd(object):
    """The real libvirtd the sandbox uses, and the daemons it started."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.processes = []  # (name, Popen), in start order
        self.started = False
        self.domain_type = None
        self._libvirt = None

    def _open(self):
        try:
            conn = self._libvirt.open(URI)
            conn.getLibVersion()
            return conn
        except self._libvirt.libvirtError:
            return None

    def connect(self, may_start=True):
        """A connection to qemu:///system, starting the daemons if needed.

        :raises Unavailable: with the reason, when there is no libvirt
        """
        try:
            import libvirt
        except ImportError:
            raise NotInstalled('libvirt-python is not installed')
        self._libvirt = libvirt
        libvirt.registerErrorHandler(lambda ctx, error: None, None)
        if not any(_which(name) for name in QEMU_BINARIES):
            raise NotInstalled('QEMU is not installed (Debian: '
                               'qemu-system-x86)')
        conn = self._open()
        if conn is not None:
            return conn
        if not may_start:
            raise Unavailable('libvirtd does not answer at %s' % URI)
        libvirtd = _which('libvirtd')
        if libvirtd is None:
            raise NotInstalled('libvirtd is not installed (Debian: '
                               'libvirt-daemon-system)')
        if os.geteuid() != 0:
            raise Unavailable('libvirtd does not answer at %s and only '
                              'root may start it' % URI)
        self.started = True
        if not _socket_answers(VIRTLOGD_SOCKET):
            virtlogd = _which('virtlogd')
            if virtlogd is None:
                raise NotInstalled('virtlogd is not installed')
            process = self._spawn('virtlogd', virtlogd)
            self._wait(lambda: _socket_answers(VIRTLOGD_SOCKET), process,
                       'virtlogd', 'listen on %s' % VIRTLOGD_SOCKET)
        process = None
        if not _pidfile_alive(LIBVIRTD_PIDFILE):
            process = self._spawn('libvirtd', libvirtd)
        # else another libvirtd is still starting: wait for it.
        return self._wait(self._open, process, 'libvirtd',
                          'answer at %s' % URI)

    def _spawn(self, name, binary):
        LOG.info('Starting %s', binary)
        with open(os.path.join(self.log_dir, name + '.log'), 'wb') as log:
            process = subprocess.Popen(
                [binary], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                env=_clean_env())
        self.processes.append((name, process))
        return process

    def _wait(self, predicate, process, name, what):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            if process is not None and process.poll() is not None:
                raise Unavailable('%s exited with %s before it could %s '
                                  '(see %s.log)' % (name, process.returncode,
                                                    what, name))
            time.sleep(0.2)
        raise Unavailable('%s did not %s within %d s' % (
            name, what, START_TIMEOUT))

    def probe_domain_type(self, conn):
        """'kvm' if a KVM guest really starts here, else 'qemu' (TCG)."""
        if not os.access('/dev/kvm', os.R_OK | os.W_OK):
            self.domain_type = 'qemu'
            return self.domain_type
        xml = ("<domain type='kvm'><name>nova-usb-sandbox-probe-%d</name>"
               "<memory unit='MiB'>32</memory><vcpu>1</vcpu>"
               "<os><type arch='x86_64'>hvm</type></os>"
               "<devices><memballoon model='none'/></devices></domain>"
               % os.getpid())
        try:
            conn.createXML(xml, 0).destroy()
            self.domain_type = 'kvm'
        except self._libvirt.libvirtError as error:
            LOG.warning('KVM guests do not start here, using TCG: %s', error)
            self.domain_type = 'qemu'
        return self.domain_type

    def remove_domains(self, uuids):
        """Destroy and undefine the sandbox's guests; gone ones are fine."""
        conn = self._open()
        if conn is None:
            return
        try:
            for domain_uuid in uuids:
                try:
                    dom = conn.lookupByUUIDString(domain_uuid)
                except self._libvirt.libvirtError:
                    continue
                for step in ('destroy', 'undefine'):
                    try:
                        if step == 'destroy' and dom.isActive():
                            dom.destroy()
                        elif step == 'undefine' and dom.isPersistent():
                            dom.undefineFlags(
                                self._libvirt.VIR_DOMAIN_UNDEFINE_NVRAM |
                                self._libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
                    except self._libvirt.libvirtError as error:
                        LOG.warning('Could not %s %s: %s', step,
                                    domain_uuid, error)
        finally:
            conn.close()

    def stop(self):
        """Stop the daemons this sandbox started, last started first."""
        for name, process in reversed(self.processes):
            if process.poll() is None:
                LOG.info('Stopping %s (pid %d)', name, process.pid)
                process.terminate()
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(STOP_TIMEOUT)
        self.processes = []
