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
import shutil
import sys
import tempfile
import uuid

import libvirt
from lxml import etree
from oslotest import base

from nova_usb_sandbox import libvirtd as daemons
from tests.fixtures import polling

URI = daemons.URI
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
        self.daemons = None  # what started (and stops) the daemons
        self.workdir = None  # the daemons' logs


_state = None


def _setup():
    """Connect, starting the daemons as nova-usb-sandbox does when needed."""
    global _state
    _state = _State()
    atexit.register(_teardown)
    _state.workdir = tempfile.mkdtemp(prefix='nova-usb-libvirtd-')
    _state.daemons = daemons.Libvirtd(_state.workdir)
    try:
        _state.conn = _state.daemons.connect()
    except daemons.NotInstalled as reason:
        _state.skip_reason = 'this machine lacks a part: %s' % reason
        return
    except daemons.Unavailable as reason:
        raise RuntimeError('%s\n%s' % (reason, _logs()))
    _state.domain_type = _state.daemons.probe_domain_type(_state.conn)


def _logs():
    tails = []
    for name in ('virtlogd', 'libvirtd'):
        try:
            with open('%s/%s.log' % (_state.workdir, name),
                      errors='replace') as log:
                tails.append('%s.log: %s' % (name, log.read()[-2000:]))
        except OSError:
            pass
    return '\n'.join(tails)


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


def _teardown():
    if _state is None:
        return
    if _state.conn is not None:
        try:
            _remove_leftovers(_state.conn)
            _state.conn.close()
        except libvirt.libvirtError:
            pass
    if _state.daemons is not None:
        _state.daemons.stop()
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

    @staticmethod
    def wait_for(predicate, timeout=10, what='condition'):
        """Poll, bounded: live detach completes asynchronously."""
        return polling.wait_for(predicate, what, timeout, interval=0.05)
