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

"""A real libvirtd at qemu:///system, and throwaway domains on it.

The integration tests prove the XML and the port model against what libvirt
and QEMU really do, so they need the real daemon. A libvirtd that already
answers is used as it is and never stopped. Otherwise this module starts
``virtlogd`` (QEMU's logs go through it; without it no domain starts) and
``libvirtd`` itself, once per test process, as child processes in the
foreground rather than with ``-d``, so their pids are known exactly, and
stops exactly those processes when the test process exits. The suite runs
with concurrency 1 because of that.

Only a machine without libvirtd or QEMU skips the tests; anything else that
goes wrong is a failure, because a skipped suite reads as a passing one.
"""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import libvirt
from lxml import etree
from oslotest import base

URI = 'qemu:///system'
# libvirtd needs about 8 s to answer the first time (QEMU capabilities).
START_TIMEOUT = 30
STOP_TIMEOUT = 15
VIRTLOGD_SOCKET = '/run/libvirt/virtlogd-sock'
LIBVIRTD_PIDFILE = '/run/libvirtd.pid'
QEMU_BINARIES = ('qemu-system-x86_64', 'qemu-kvm', 'kvm')
# Every domain of this process is named with this prefix, so leftovers can
# be found and removed without touching anybody else's domains.
PREFIX = 'nova-usb-test-%s-' % uuid.uuid4().hex[:8]


def _silence(ctx, error):
    """libvirt prints every error to stderr; the tests check them instead."""


libvirt.registerErrorHandler(_silence, None)


class _State(object):

    def __init__(self):
        self.conn = None
        self.domain_type = None
        self.skip_reason = None
        self.error = None
        self.processes = []  # (name, Popen) we started, in start order
        self.workdir = None  # the daemons' logs


_state = None


def _which(name):
    path = os.pathsep.join([os.environ.get('PATH', ''), '/usr/sbin',
                            '/sbin', '/usr/libexec'])
    return shutil.which(name, path=path)


def _open():
    try:
        conn = libvirt.open(URI)
        conn.getLibVersion()
        return conn
    except libvirt.libvirtError:
        return None


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
            pid = int(pidfile.read().strip())
        os.kill(pid, 0)
        return True
    except (OSError, ValueError):
        return False


def _log_tail(name):
    path = os.path.join(_state.workdir, name + '.log')
    try:
        with open(path, errors='replace') as log:
            return log.read()[-2000:]
    except OSError:
        return ''


def _spawn(name, binary):
    """Run a daemon in the foreground as our child, so its pid is exact."""
    log = open(os.path.join(_state.workdir, name + '.log'), 'wb')
    try:
        process = subprocess.Popen(
            [binary], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()
    _state.processes.append((name, process))
    return process


def _wait(predicate, process, name, what):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        if process is not None and process.poll() is not None:
            raise RuntimeError('%s exited with %s before %s:\n%s' % (
                name, process.returncode, what, _log_tail(name)))
        time.sleep(0.2)
    raise RuntimeError('%s did not %s within %d s:\n%s' % (
        name, what, START_TIMEOUT, _log_tail(name)))


def _start_daemons():
    libvirtd = _which('libvirtd')
    if libvirtd is None:
        _state.skip_reason = ('this machine has no libvirtd (Debian: '
                              'libvirt-daemon-system)')
        return None
    _state.workdir = tempfile.mkdtemp(prefix='nova-usb-libvirtd-')
    if not _socket_answers(VIRTLOGD_SOCKET):
        virtlogd = _which('virtlogd')
        if virtlogd is None:
            raise RuntimeError('libvirtd is installed but virtlogd is not')
        process = _spawn('virtlogd', virtlogd)
        _wait(lambda: _socket_answers(VIRTLOGD_SOCKET), process,
              'virtlogd', 'listen on %s' % VIRTLOGD_SOCKET)
    process = None
    if not _pidfile_alive(LIBVIRTD_PIDFILE):
        process = _spawn('libvirtd', libvirtd)
    # else somebody else's libvirtd is still starting: wait for it.
    return _wait(_open, process, 'libvirtd', 'answer at %s' % URI)


def _probe_domain_type(conn):
    """'kvm' if a KVM domain really starts here, else 'qemu' (TCG)."""
    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        return 'qemu'
    try:
        dom = conn.createXML(domain_xml(PREFIX + 'probe', 'kvm'), 0)
    except libvirt.libvirtError:
        return 'qemu'
    dom.destroy()
    return 'kvm'


def _setup():
    global _state
    _state = _State()
    atexit.register(_teardown)
    if not any(_which(name) for name in QEMU_BINARIES):
        _state.skip_reason = ('this machine has no QEMU (Debian: '
                              'qemu-system-x86)')
        return
    conn = _open()
    if conn is None:
        conn = _start_daemons()
        if conn is None:
            return
    _state.conn = conn
    _state.domain_type = _probe_domain_type(conn)


def _remove_leftovers(conn):
    for dom in conn.listAllDomains():
        if not dom.name().startswith(PREFIX):
            continue
        try:
            if dom.isActive():
                dom.destroy()
            if dom.isPersistent():
                dom.undefine()
        except libvirt.libvirtError:
            pass


def _stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


def _teardown():
    if _state is None:
        return
    if _state.conn is not None:
        try:
            _remove_leftovers(_state.conn)
            _state.conn.close()
        except libvirt.libvirtError:
            pass
    # libvirtd before virtlogd: the reverse of the start order.
    for _name, process in reversed(_state.processes):
        _stop(process)
    if _state.workdir:
        shutil.rmtree(_state.workdir, ignore_errors=True)


def state():
    """The shared connection, started once; raises what went wrong."""
    if _state is None:
        try:
            _setup()
        except Exception as error:
            _state.error = error
            raise
        if _state.skip_reason:
            sys.stderr.write('Skipping the libvirt integration tests: %s\n'
                             % _state.skip_reason)
    if _state.error is not None:
        raise RuntimeError('libvirtd could not be set up: %s' % (
            _state.error,))
    return _state


def domain_xml(name, domain_type, machine='pc', devices=()):
    """A diskless 64 MiB guest: no disk, network or graphics to slow it."""
    domain = etree.Element('domain', type=domain_type)
    etree.SubElement(domain, 'name').text = name
    etree.SubElement(domain, 'memory', unit='MiB').text = '64'
    etree.SubElement(domain, 'vcpu').text = '1'
    os_element = etree.SubElement(domain, 'os')
    etree.SubElement(os_element, 'type', arch='x86_64',
                     machine=machine).text = 'hvm'
    element = etree.SubElement(domain, 'devices')
    for device in devices:
        if not etree.iselement(device):
            device = etree.fromstring(device)
        element.append(device)
    etree.SubElement(element, 'memballoon', model='none')
    return etree.tostring(domain, encoding='unicode')


def usb_addresses(domain_xml_text):
    """{alias: (bus, port)} of every device libvirt put on a USB port."""
    root = etree.fromstring(domain_xml_text)
    found = {}
    for address in root.iterfind("devices/*/address[@type='usb']"):
        alias = address.getparent().find('alias')
        name = alias.get('name') if alias is not None else None
        found[name] = (int(address.get('bus')), address.get('port'))
    return found


class TestCase(base.BaseTestCase):
    """A test with the shared libvirtd connection and its own domains."""

    def setUp(self):
        super().setUp()
        shared = state()
        if shared.skip_reason:
            self.skipTest(shared.skip_reason)
        self.conn = shared.conn
        self.domain_type = shared.domain_type

    def _name(self):
        return PREFIX + uuid.uuid4().hex[:8]

    def _remove(self, dom):
        """Destroy and undefine; what is already gone is fine."""
        for step in ('destroy', 'undefine'):
            try:
                if step == 'destroy' and dom.isActive():
                    dom.destroy()
                elif step == 'undefine' and dom.isPersistent():
                    dom.undefine()
            except libvirt.libvirtError as error:
                if error.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise

    def start_domain(self, devices=(), machine='pc'):
        """A running transient domain, destroyed when the test ends."""
        dom = self.conn.createXML(domain_xml(
            self._name(), self.domain_type, machine, devices), 0)
        self.addCleanup(self._remove, dom)
        return dom

    def define_domain(self, devices=(), machine='pc', start=False):
        """A defined domain (stopped unless asked), undefined at the end."""
        dom = self.conn.defineXML(domain_xml(
            self._name(), self.domain_type, machine, devices))
        self.addCleanup(self._remove, dom)
        if start:
            dom.create()
        return dom

    @staticmethod
    def live_xml(dom):
        return dom.XMLDesc(0)

    @staticmethod
    def inactive_xml(dom):
        return dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)

    def wait_for(self, predicate, timeout=10, what='condition'):
        """Poll, bounded: live detach completes asynchronously."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                self.fail('%s not reached within %s s' % (what, timeout))
            time.sleep(0.05)
