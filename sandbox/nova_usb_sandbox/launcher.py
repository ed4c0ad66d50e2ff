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


"""Nova's real services in one process, on the sandbox's defaults.

What runs, in start order:

* the databases, SQLite files or on a MySQL server (``--database``), as
  nova_usb_sandbox.databases makes them, nova-usb's own among them;
* keystone, deployed into the state directory and run as a process of
  its own while the rest starts (nova_usb_sandbox.keystone), with Nova's
  quotas as its unified limits;
* placement (the openstack-placement WSGI application, on its own
  noauth2);
* the embedded stand-ins Nova needs and the sandbox has no room for: an
  image store (nova_usb_sandbox.images) and Nova's NeutronFixture (servers
  are booted without network);
* the hypervisor: Nova's libvirt driver on a real libvirtd
  (nova_usb_sandbox.libvirtd) or on fakelibvirt taught USB
  (nova_usb_sandbox.fakevirt), with the host's USB devices or recorded
  ones (nova_usb_sandbox.demo);
* nova-conductor, nova-scheduler and nova-compute with nova-usb's driver,
  as nova.service.Service, with the in-process oslo.messaging driver;
  the compute host is then mapped to cell1 (``discover_hosts``);
* nova-api: nova-usb's api-paste.ini (keystonemiddleware's auth_token,
  then Nova's pipeline with nova-usb's router), once keystone is ready,
  served over HTTP on 127.0.0.1 with placement and the image service
  (nova_usb_sandbox.web);
* with ``--demo-devices`` and the demo's own [usb] device_spec rules,
  which grant the devices to no project: the devices the rules select
  granted to project ``demo`` through nova-usb's API, as an admin does.

Everything started is stopped by ``stop()``, in reverse order, whatever
failed on the way.
"""

import contextlib
import logging as py_logging
import os
import shutil
import socket
import tempfile
import threading
import time

from nova_usb_sandbox import config as sandbox_config
from nova_usb_sandbox import databases

LOG = py_logging.getLogger(__name__)

FLAVOR = {'name': 'tiny', 'flavorid': 'tiny', 'memory_mb': 64, 'vcpus': 1,
          'root_gb': 1, 'ephemeral_gb': 0, 'swap': 0}
SERVICE_STOP_TIMEOUT = 20


class StartError(Exception):
    """The sandbox cannot start; the message says why and what to do."""


# What the sandbox needs beyond nova-usb's own requirements (the
# requirements of the nova-usb-sandbox distribution).
_REQUIREMENTS = (
    ('keystone.server.wsgi', 'keystone'),
    ('placement.deploy', 'openstack-placement'),
    ('fixtures', 'fixtures'),
    ('nova.tests.fixtures', 'nova (a wheel with its nova.tests package)'),
)


# What --dashboard needs: Horizon and nova-usb's plugin.
_DASHBOARD_REQUIREMENTS = (
    ('openstack_dashboard', 'horizon'),
    ('nova_usb_dashboard', 'nova-usb-dashboard'),
)


def _check_requirements(extra=()):
    from importlib import util
    missing = []
    for module, package in _REQUIREMENTS + tuple(extra):
        # Found, not imported: keystone's modules register keystone's
        # options in the process-wide configuration, which is Nova's here.
        try:
            found = util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            missing.append(package)
    if missing:
        raise StartError('missing Python packages: %s (pip install '
                         'nova-usb-sandbox from the sandbox/ directory of '
                         'nova-usb)' % ', '.join(missing))


class Harness(object):
    """What Nova's test fixtures expect of a test, for the sandbox.

    Fixtures are set up at once and cleaned up by ``cleanup()``, last
    first, like a test's.
    """

    def __init__(self):
        self._stack = contextlib.ExitStack()

    def useFixture(self, fixture):
        fixture.setUp()
        self._stack.callback(fixture.cleanUp)
        return fixture

    def stub_out(self, old, new):
        import fixtures
        self.useFixture(fixtures.MonkeyPatch(old, new))

    def flags(self, **kwargs):
        import nova.conf
        group = kwargs.pop('group', None)
        for key, value in kwargs.items():
            nova.conf.CONF.set_override(key, value, group)

    def addCleanup(self, function, *args, **kwargs):
        self._stack.callback(function, *args, **kwargs)

    def cleanup(self):
        self._stack.close()


class Facts(object):
    """What the sandbox is made of on this machine, for the printout."""

    def __init__(self):
        self.hypervisor = None          # 'libvirt' or 'fakelibvirt'
        self.hypervisor_reason = None   # why fakelibvirt
        self.libvirtd = None            # 'running', 'started' or None
        self.domain_type = None         # 'kvm' or 'qemu'
        self.usb = None                 # 'host' or 'recorded'
        self.usb_devices = 0
        self.assignable = []            # ids of the assignable devices
        self.databases = None           # where, when not SQLite files
        self.nova_version = None
        self.keystone_version = None
        self.start_seconds = None
        self.dashboard_url = None       # Horizon, with --dashboard
        self.granted_project = None     # (name, id) the demo devices are
        self.granted = []               # granted to; (id, what) of each


class Sandbox(object):

    def __init__(self, host='sandbox', port=0, state_dir=None,
                 demo_devices=False, libvirt='auto', device_spec=(),
                 debug=False, database=None, dashboard=False):
        self.host = host
        self.port = port
        self.keep_state = state_dir is not None
        self.state_dir = state_dir
        self.demo_devices = demo_devices
        self.libvirt_choice = libvirt
        self.device_spec = list(device_spec)
        self.debug = debug
        self.database = database
        self.dashboard_wanted = dashboard
        self.dashboard = None
        self.mysql = None
        self.facts = Facts()
        self.settings = None
        self.harness = Harness()
        self.web = None
        self.keystone = None
        self.libvirtd = None
        self.services = []
        self.images = None
        self._stopped = False

    # Start

    def start(self, progress=lambda message: None):
        began = time.monotonic()
        _check_requirements(_DASHBOARD_REQUIREMENTS if self.dashboard_wanted
                            else ())
        if self.database is not None:
            from nova_usb_sandbox import mysql
            try:
                self.mysql = mysql.Server(self.database)
            except mysql.Unusable as error:
                raise StartError(str(error))
        self._make_state_dir()
        from nova_usb_sandbox import web
        # Serving from the start: nova-compute and nova-conductor talk to
        # placement over HTTP as soon as they are created. nova-api is
        # mounted last, once everything it calls is there.
        self.web = web.WebServer(self.port)
        self.web.start()
        progress('HTTP on %s' % self.web.url)
        # keystone deploys itself while Nova starts.
        from nova_usb_sandbox import keystone
        self.keystone = keystone.Keystone(
            self.state_dir, self.web.url + '/compute/v2.1',
            self.web.url + '/image', debug=self.debug)
        self.keystone.start()
        if self.dashboard_wanted:
            # Horizon starts (and compiles its styles) while Nova does.
            from nova_usb_sandbox import dashboard
            self.dashboard = dashboard.Dashboard(
                self.state_dir, self.keystone.url, debug=self.debug)
            self.dashboard.start()
        virt_type = self._choose_hypervisor(progress)
        device_spec = self.device_spec
        if self.demo_devices:
            from nova_usb_sandbox import demo
            device_spec = device_spec or list(demo.DEVICE_SPEC)
        self.settings = sandbox_config.Settings(
            self.state_dir, self.host, self.web.url, virt_type=virt_type,
            device_spec=device_spec, debug=self.debug, mysql=self.mysql,
            keystone=self.keystone)
        self.settings.write()
        self._configure_nova()
        progress('Nova %s configured: %s' % (self.facts.nova_version,
                                             self.settings.nova_conf))
        self._one_message_bus()
        self._databases()
        progress('databases created%s' % (
            ' on %s' % self.mysql.shown() if self.mysql else ''))
        self._placement()
        self._stand_ins()
        self._flavor()
        self._hypervisor()
        self._start_services()
        progress('conductor, scheduler and compute started')
        self._wait_keystone()
        progress('keystone ready: %s' % self.keystone.url)
        self._api()
        if self.demo_devices and not self.device_spec:
            self._grant_demo_devices()
            name, project_id = self.facts.granted_project
            progress('granted the %d demo USB devices to project %s (%s)'
                     % (len(self.facts.granted), name, project_id))
        if self.dashboard is not None:
            self._network_stand_in()
            self._wait_dashboard()
            progress('dashboard ready: %s' % self.dashboard.url)
        self.facts.start_seconds = time.monotonic() - began
        self._write_clouds_yaml()

    def _make_state_dir(self):
        if self.state_dir is None:
            self.state_dir = tempfile.mkdtemp(prefix='nova-usb-sandbox-')
            # mkdtemp's 0700 would keep QEMU, which libvirtd runs as its
            # own user, away from the guests' disks in instances/.
            os.chmod(self.state_dir, 0o711)
        else:
            self.state_dir = os.path.abspath(self.state_dir)
            os.makedirs(self.state_dir, exist_ok=True)
            if os.listdir(self.state_dir):
                raise StartError('the state directory %s is not empty; '
                                 'give a new or empty one' % self.state_dir)

    def _choose_hypervisor(self, progress):
        """'kvm' or 'qemu' for a real libvirtd; fakelibvirt otherwise."""
        from nova_usb_sandbox import libvirtd
        facts = self.facts
        facts.usb = 'recorded' if self.demo_devices else 'host'
        if self.libvirt_choice == 'fake':
            facts.hypervisor = 'fakelibvirt'
            facts.hypervisor_reason = 'asked for (--libvirt fake)'
            return 'kvm'
        if self.demo_devices:
            if self.libvirt_choice == 'real':
                raise StartError(
                    '--demo-devices cannot go with --libvirt real: libvirtd '
                    'looks for passed-through devices in the real /sys, '
                    'where recorded devices do not exist')
            facts.hypervisor = 'fakelibvirt'
            facts.hypervisor_reason = (
                'recorded USB devices (--demo-devices) exist only for '
                'this process; a real libvirtd and QEMU cannot see them')
            return 'kvm'
        self.libvirtd = libvirtd.Libvirtd(self.state_dir)
        progress('looking for libvirtd at %s' % libvirtd.URI)
        try:
            if os.geteuid() != 0:
                # Nova's privileged helpers (disks, console logs) run in
                # this process, not in a privsep daemon started with sudo.
                raise libvirtd.Unavailable(
                    'real guests need nova-compute\'s privileges: run the '
                    'sandbox as root')
            conn = self.libvirtd.connect(may_start=True)
        except libvirtd.Unavailable as error:
            if self.libvirt_choice == 'real':
                raise StartError('no real libvirt: %s' % error)
            facts.hypervisor = 'fakelibvirt'
            facts.hypervisor_reason = 'no real libvirt: %s' % error
            self.libvirtd.stop()
            self.libvirtd = None
            return 'kvm'
        try:
            facts.hypervisor = 'libvirt'
            facts.libvirtd = 'started' if self.libvirtd.started else 'running'
            facts.domain_type = self.libvirtd.probe_domain_type(conn)
        finally:
            conn.close()
        return facts.domain_type

    def _configure_nova(self):
        import nova.conf
        from nova import config as nova_config
        from nova import objects
        from nova import version
        from oslo_log import log as logging

        from nova_usb import conf as usb_conf  # noqa: F401 ([usb] options)

        nova_config.parse_args(
            ['nova-usb-sandbox', '--config-file', self.settings.nova_conf],
            default_config_files=[])
        logging.setup(nova.conf.CONF, 'nova')
        py_logging.captureWarnings(True)
        objects.register_all()
        self.facts.nova_version = version.version_string()

    def _one_message_bus(self):
        """Every cell's transport is the process's one in-memory bus.

        oslo.messaging's fake driver keeps messages per transport object,
        and Nova makes a transport per cell from the cell's URL: without
        this, nova-api would cast to a compute service listening on
        another bus. (Nova's CellDatabases fixture does the same.)
        """
        import nova.conf
        from nova import rpc
        real = rpc.create_transport

        def create_transport(url):
            if url == nova.conf.CONF.transport_url and rpc.TRANSPORT:
                return rpc.TRANSPORT
            return real(url)

        self.harness.stub_out('nova.rpc.create_transport', create_transport)

    def _databases(self):
        try:
            databases.create(self.settings, self.mysql, self.harness)
        except databases.Unusable as error:
            raise StartError(str(error))
        if self.mysql is not None:
            self.facts.databases = 'MySQL server %s: %s' % (
                self.mysql.shown(), ', '.join(self.mysql.databases()))

    def _placement(self):
        from oslo_config import cfg
        from placement import conf as placement_conf
        from placement import db_api as placement_db_api
        from placement import deploy as placement_deploy

        conf = cfg.ConfigOpts()
        placement_conf.register_opts(conf)
        conf([], project='placement',
             default_config_files=[self.settings.placement_conf])
        placement_db_api.configure(conf)
        self.web.mount('/placement', placement_deploy.loadapp(conf))

    def _stand_ins(self):
        from nova.tests.fixtures import neutron as neutron_fixtures

        from nova_usb_sandbox import images
        self.images = images.ImageStore()
        self.images.install(self.harness)
        self.images.add_empty_image()
        self.web.mount('/image', images.ImageAPI(self.images))
        # Servers are booted with --nic none; Nova still asks neutron
        # about ports on delete and in periodic tasks.
        self.harness.useFixture(neutron_fixtures.NeutronFixture(self.harness))

    def _flavor(self):
        from nova import context as nova_context
        from nova import objects
        flavors = [FLAVOR]
        if self.demo_devices:
            from nova_usb_sandbox import demo
            flavors.append(demo.FLAVOR)
        for flavor in flavors:
            objects.Flavor(context=nova_context.get_admin_context(),
                           is_public=True, **flavor).create()

    def _hypervisor(self):
        if self.demo_devices:
            from nova_usb_sandbox import demo
            demo.load(self.harness)
        if self.facts.hypervisor == 'fakelibvirt':
            from nova_usb_sandbox import fakevirt
            fakevirt.setup(self.harness, socket.gethostname())
        else:
            # nova-compute's privileged helpers run in this (root) process
            # instead of a privsep daemon started through sudo and
            # nova-rootwrap, which a sandbox does not install.
            import fixtures
            import nova.privsep
            self.harness.useFixture(fixtures.MockPatchObject(
                nova.privsep.sys_admin_pctxt, 'client_mode', False))

    def _start_services(self):
        from nova.compute import rpcapi as compute_rpcapi
        from nova.conductor import rpcapi as conductor_rpcapi
        from nova import context as nova_context
        from nova import objects
        from nova.scheduler import rpcapi as scheduler_rpcapi
        from nova import service

        for binary, kwargs in (
                ('nova-conductor', {'topic': conductor_rpcapi.RPC_TOPIC}),
                ('nova-scheduler', {'topic': scheduler_rpcapi.RPC_TOPIC}),
                ('nova-compute', {
                    'topic': compute_rpcapi.RPC_TOPIC,
                    'topic_alt': compute_rpcapi.RPC_TOPIC_ALT})):
            server = service.Service.create(binary=binary, **kwargs)
            server.start()
            self.services.append(server)
        compute = self.services[-1]
        # nova-manage cell_v2 discover_hosts, for this one host.
        ctxt = nova_context.get_admin_context()
        objects.host_mapping.discover_hosts(ctxt, status_fn=LOG.info)
        usb = getattr(compute.manager.driver, 'usb', None)
        if usb is not None:
            try:
                devices = usb.list_host_devices(ctxt)
                self.facts.usb_devices = len(devices)
                self.facts.assignable = [d.id for d in devices
                                         if d.assignable]
            except Exception:  # the count is for the printout only
                LOG.exception('Could not count the host USB devices')

    def _wait_keystone(self):
        from nova_usb_sandbox import keystone
        try:
            self.keystone.wait()
        except keystone.Unavailable as error:
            raise StartError(str(error))
        from importlib import metadata
        self.facts.keystone_version = metadata.version('keystone')

    def _network_stand_in(self):
        """Horizon's pages read the network service: an empty one."""
        from nova_usb_sandbox import network
        self.web.mount('/network', network.NetworkAPI())
        network.register(self.keystone, self.web.url + '/network')

    def _wait_dashboard(self):
        from nova_usb_sandbox import dashboard
        try:
            self.dashboard.wait()
        except dashboard.Unavailable as error:
            raise StartError(str(error))
        self.facts.dashboard_url = self.dashboard.url

    def _api(self):
        import nova.api.openstack.wsgi_app as wsgi_app
        from nova.api import wsgi as api_wsgi
        import nova.conf

        wsgi_app._setup_service(nova.conf.CONF.host, 'osapi_compute')
        self.web.mount('/compute',
                       api_wsgi.Loader().load_app('osapi_compute'))

    def _grant_demo_devices(self):
        """The devices the demo's rules select, to project ``demo``.

        The rules grant them to no project (devices a rule grants to none
        are for admins), so the demo project's members have them from a
        grant an admin makes through nova-usb's API, over HTTP, with the
        product's client: the host's devices, then one PUT
        /os-usb-devices/{id}/grants/{project} each. Those grants are what
        ``openstack usb device grant list`` shows and an admin removes.
        """
        from nova_usbclient import api as usb_api

        from nova_usb_sandbox import keystone
        client = usb_api.Client(self.keystone.session(),
                                region_name=keystone.REGION)
        project_id = self.keystone.project_ids[keystone.DEMO_PROJECT]
        self.facts.granted_project = (keystone.DEMO_PROJECT, project_id)
        try:
            for device in client.list_host_devices(self.host):
                if device['assignable']:
                    client.grant_device(device['id'], project_id)
                    self.facts.granted.append((device['id'], ' '.join(
                        str(part) for part in (
                            device['vendor_name'], device['product_name'],
                            device['serial']) if part)))
        except usb_api.ApiError as error:
            raise StartError('the demo USB devices could not be granted '
                             'to project %s: %s' % (keystone.DEMO_PROJECT,
                                                    error))

    def _write_clouds_yaml(self):
        """clouds.yaml holds the admin's password: for this user only."""
        from nova_usb_sandbox import report
        sandbox_config.write_private(self.settings.path('clouds.yaml'),
                                     report.clouds_yaml(self.settings))

    # Stop

    def instance_uuids(self):
        """Every server the sandbox's cell knows, deleted ones included."""
        from nova import context as nova_context
        from nova import objects
        try:
            ctxt = nova_context.get_admin_context(read_deleted='yes')
            return [i.uuid for i in objects.InstanceList.get_all(ctxt)]
        except Exception:
            LOG.exception('Could not list the servers')
            return []

    def stop(self, keep_state=False):
        """Stop everything started, last first; never raises.

        The state directory goes too, unless it was given or keep_state
        (a sandbox that failed keeps its logs). Databases on a MySQL server
        are dropped unless the state directory was given.
        """
        if self._stopped:
            return
        self._stopped = True
        steps = []
        if self.web is not None:
            steps.append(('HTTP server', self.web.stop))
        uuids = []
        if self.libvirtd is not None and self.settings is not None:
            # Read while the database is there; the guests themselves go
            # once nova-compute no longer watches them.
            steps.append(('server list', lambda: uuids.extend(
                self.instance_uuids())))
        for server in reversed(self.services):
            if server.binary == 'nova-compute':
                steps.append(('libvirt connection events',
                              lambda compute=server: _end_connection_events(
                                  compute)))
            steps.append((server.binary, _bounded(server.stop,
                                                  SERVICE_STOP_TIMEOUT)))
        if self.libvirtd is not None:
            steps.append(('guests', lambda: self.libvirtd.remove_domains(
                uuids)))
        steps.append(('stand-ins and patches', self.harness.cleanup))
        if self.libvirtd is not None:
            steps.append(('libvirtd', self.libvirtd.stop))
        if self.dashboard is not None:
            steps.append(('dashboard', self.dashboard.stop))
        if self.keystone is not None:
            steps.append(('keystone', self.keystone.stop))
        if self.mysql is not None and self.mysql.created and self.keep_state:
            LOG.info('Databases kept with the state: %s on %s',
                     ', '.join(self.mysql.created), self.mysql.shown())
        elif self.mysql is not None:
            steps.append(('databases', lambda: databases.drop(self.mysql)))
        for name, step in steps:
            began = time.monotonic()
            try:
                step()
            except Exception:
                LOG.exception('Stopping %s failed', name)
            LOG.info('Stopped %s in %.1f s', name, time.monotonic() - began)
        if not (self.keep_state or keep_state) and self.state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)


class _EndOfEvents(BaseException):
    """Ends the thread that dispatches libvirt connection events."""


def _end_connection_events(compute):
    """Let nova-compute's thread pools shut down without waiting.

    Nova's libvirt Host dispatches connection events in a pool thread that
    loops forever (nova.virt.libvirt.host.Host._conn_event_thread; Nova
    notes that stopping it is still to do), so nova-compute's
    cleanup_host() waits for its pool until it is killed. A handler that
    raises an exception Nova's loop does not catch ends that thread.
    """
    host = getattr(compute.manager.driver, '_host', None)
    events = getattr(host, '_conn_event_handler_queue', None)
    if events is None or not getattr(host, '_initialized', False):
        return

    def end():
        raise _EndOfEvents()

    events.put(end)


def _bounded(function, timeout):
    """function, run in a thread that is given up after timeout seconds."""
    def run():
        thread = threading.Thread(target=function, daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            LOG.warning('%s did not finish within %d s', function, timeout)
    return run
