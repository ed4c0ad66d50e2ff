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

"""A multi-process Nova cloud with nova-usb, on 127.0.0.1.

Built from the installed packages (the virtualenv) and the configuration
files of etc/cloud/ that the operator guide shows, in the order of the
install guides of keystone, glance, placement and Nova:

- MariaDB (the server ``tools/mariadb.sh`` starts): databases keystone,
  glance, placement, nova_api, nova_cell0, nova, each service with its
  own account and a password generated for this run;
- RabbitMQ (Debian's rabbitmq-server) as a plain process with its own data
  directory and its own epmd, everything bound to 127.0.0.1;
- keystone, glance-api, placement-api and nova-api under uWSGI;
- nova-conductor, nova-scheduler and nova-compute (nova-usb's driver) on
  this machine's libvirtd, each its own process, configuration file and
  log.

Every process is a child of the run and is stopped by its pid.
"""

from concurrent import futures
import datetime
import os
import shutil
import subprocess
import sys
import time

from tests.cloud import crashpoints
from tests.cloud import keystone as keystone_deploy
from tests.cloud import nested
from tests.cloud import processes
from tests.cloud import snippets

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
API_PASTE = os.path.join(TOP, 'etc', 'nova', 'api-paste.ini')
# The same [usb] device_spec on every compute node, as an operator writes
# it for QEMU's emulated USB sticks (the nested USB host's devices, by
# serial): the three sticks with a serial for the API and for flavors, to
# the projects the admin grants them to through the API (no rule grants
# them to a project); the stick without a serial for flavors only. The
# first rule that selects a device decides.
DEVICE_SPEC = (
    '{"vendor_id": "46f4", "serial": "NOVAUSB-A"}',
    '{"vendor_id": "46f4", "serial": "NOVAUSB-B"}',
    '{"vendor_id": "46f4", "serial": "NOVAUSB-C"}',
    '{"vendor_id": "46f4", "use": "flavor"}',
)
DATABASES = {'keystone': ['keystone'], 'glance': ['glance'],
             'placement': ['placement'],
             'nova': ['nova_api', 'nova_cell0', 'nova'],
             'nova_usb': ['nova_usb']}
# Every project's default limits (keystone's registered limits of the
# compute service, Nova's unified limits): more servers and sticks than
# the cloud has, so that only a project limit set on purpose is met.
# "servers" must be registered: Nova refuses a resource it requires that
# has no limit ([quota] unified_limits_resource_list).
REGISTERED_LIMITS = {'servers': 100, 'class:CUSTOM_USB_46F4_0001': 10}
LOCAL_NODE = 'node1'
# nova-api's worker processes. Each attach or controller change a crash
# scenario stops holds one until nova-api stops waiting for it ([DEFAULT]
# rpc_response_timeout): up to six at a time (tests/cloud/crashes.py), two
# left for the rest.
NOVA_API_WORKERS = 8


def _utc(timestamp):
    """Nova's ``updated_at`` ("2026-12-01T03:00:00.000000"), naive UTC."""
    return datetime.datetime.fromisoformat(
        timestamp.rstrip('Z').split('+')[0].split('.')[0])


def mariadb(sql):
    """SQL as MariaDB's root, over its socket (as an operator sets up)."""
    result = subprocess.run(['mariadb'], input=sql.encode(),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    if result.returncode:
        raise processes.ServiceError(
            'MariaDB refused (is it running? tools/mariadb.sh start, or '
            'tox -e cloud, which starts it): %s'
            % result.stderr.decode(errors='replace').strip())


class RabbitMQ(object):
    """Debian's rabbitmq-server with its own epmd, data and log dirs."""

    def __init__(self, state_dir, log_dir):
        self.dir = os.path.join(state_dir, 'rabbitmq')
        self.log_dir = log_dir
        self.port = processes.free_port()
        self.epmd_port = processes.free_port()
        self.dist_port = processes.free_port()
        self.password = keystone_deploy.password()
        self.epmd = None
        self.server = None

    def environment(self):
        return {
            'HOME': self.dir,  # its Erlang cookie
            'RABBITMQ_NODENAME': 'nova-usb-cloud@localhost',
            'RABBITMQ_NODE_IP_ADDRESS': '127.0.0.1',
            'RABBITMQ_DIST_PORT': str(self.dist_port),
            'ERL_EPMD_ADDRESS': '127.0.0.1',
            'ERL_EPMD_PORT': str(self.epmd_port),
            'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS':
                '-kernel inet_dist_use_interface {127,0,0,1}',
            'RABBITMQ_CONFIG_FILE': os.path.join(self.dir, 'rabbitmq.conf'),
            'RABBITMQ_CONF_ENV_FILE': os.path.join(self.dir, 'env'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': os.path.join(self.dir,
                                                          'plugins'),
            'RABBITMQ_MNESIA_BASE': os.path.join(self.dir, 'mnesia'),
            'RABBITMQ_LOG_BASE': self.log_dir,
            'RABBITMQ_LOGS': '-',
        }

    def deploy(self):
        os.makedirs(os.path.join(self.dir, 'mnesia'), exist_ok=True)
        snippets.write('rabbitmq.conf',
                       os.path.join(self.dir, 'rabbitmq.conf'),
                       {'rabbit_port': self.port,
                        'rabbit_password': self.password})
        with open(os.path.join(self.dir, 'plugins'), 'w') as plugins:
            plugins.write('[].\n')
        self.epmd = processes.Process(
            'epmd', ['epmd', '-address', '127.0.0.1',
                     '-port', str(self.epmd_port)],
            os.path.join(self.log_dir, 'epmd.log')).start()
        processes.wait_until(lambda: processes.port_open(self.epmd_port),
                             10, 'epmd listens', self.epmd)
        self.start()

    def start(self):
        self.server = processes.Process(
            'rabbitmq-server', ['/usr/lib/rabbitmq/bin/rabbitmq-server'],
            os.path.join(self.log_dir, 'rabbitmq.log'),
            env=self.environment()).start()
        processes.wait_until(lambda: processes.port_open(self.port), 60,
                             'RabbitMQ listens', self.server)

    def stop(self):
        if self.server is not None:
            self.server.stop()

    def processes(self):
        return [p for p in (self.server, self.epmd) if p is not None]


class Libvirtd(object):
    """This machine's libvirtd: the running one, or one started here."""

    URI = 'qemu:///system'

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.started = []

    @staticmethod
    def answers():
        return subprocess.run(
            ['virsh', '-c', Libvirtd.URI, 'version'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode == 0

    def start(self):
        if self.answers():
            return
        for name in ('virtlogd', 'libvirtd'):
            self.started.append(processes.Process(
                name, [name], os.path.join(self.log_dir, name + '.log')
            ).start())
        processes.wait_until(self.answers, 60, 'libvirtd answers',
                             self.started[-1])

    def processes(self):
        return list(reversed(self.started))


class Cloud(object):
    """The whole deployment; ``stop()`` ends every process it started."""

    def __init__(self, run_dir, progress=print):
        self.run_dir = run_dir
        self.state_dir = os.path.join(run_dir, 'state')
        self.log_dir = os.path.join(run_dir, 'logs')
        self.conf_dir = os.path.join(run_dir, 'etc')
        self.progress = progress
        self.ports = {name: processes.free_port() for name in
                      ('keystone', 'glance', 'placement', 'nova',
                       'network')}
        self.db_passwords = {name: keystone_deploy.password()
                             for name in DATABASES}
        self.passwords = {}  # service users and cloud users
        self.services = {}   # name -> processes.Process
        self.rabbit = RabbitMQ(self.state_dir, self.log_dir)
        self.libvirtd = Libvirtd(self.log_dir)
        self.keystone = keystone_deploy.Keystone(
            BIN, self.state_dir, self.log_dir, self.ports['keystone'],
            self.db_passwords['keystone'])
        self.device_spec = DEVICE_SPEC
        self.usb_node = None  # tests.cloud.nested.NestedNode, the USB node
        self.began = None
        self.up_seconds = None

    # -- the steps ---------------------------------------------------------

    def deploy(self):
        self.began = time.monotonic()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        for path in (self.state_dir, self.log_dir, self.conf_dir):
            os.makedirs(path)
        # QEMU (user libvirt-qemu) must reach the instances directory.
        os.chmod(self.run_dir, 0o755)
        os.chmod(self.state_dir, 0o755)
        self.remove_guests()  # of a previous run that could not
        self._databases()
        self._step('MariaDB: databases %s' % ', '.join(
            db for dbs in DATABASES.values() for db in dbs))
        # RabbitMQ and keystone first, side by side; then, once keystone
        # knows the services, each service's schema and WSGI server side
        # by side (each its own database): all finish before any fails.
        self._together(self._rabbit, self._keystone)
        for name, service_type, path in (
                ('glance', 'image', ''), ('placement', 'placement', ''),
                ('nova', 'compute', '/v2.1'), ('network', 'network', '')):
            self.passwords[name] = self.keystone.service(
                name, service_type,
                'http://127.0.0.1:%d%s' % (self.ports[name], path))
        self.keystone.system_reader('nova')
        self.keystone.registered_limits('compute', REGISTERED_LIMITS)
        self._together(self._network, self._glance, self._placement,
                       self._nova, self.libvirtd.start)
        self.start_compute(LOCAL_NODE)
        self.discover_hosts()
        self._step('nova-compute %s (this machine\'s libvirtd)' % LOCAL_NODE)
        self.up_seconds = time.monotonic() - self.began

    @staticmethod
    def _together(*steps):
        """Run ``steps`` in threads; raise the first failure once all
        have ended (so nothing is left starting while the run stops).
        """
        with futures.ThreadPoolExecutor(len(steps)) as pool:
            running = [pool.submit(step) for step in steps]
        for done in running:
            done.result()

    def _rabbit(self):
        self.rabbit.deploy()
        self._step('RabbitMQ on 127.0.0.1:%d (pid %d)' % (
            self.rabbit.port, self.rabbit.server.pid))

    def _keystone(self):
        self.keystone.deploy()
        self.services['keystone'] = self.keystone.process
        self._step('keystone on %s' % self.keystone.url)

    def _network(self):
        self._serve('network', 'tests.cloud.network:application',
                    {'PYTHONPATH': TOP}, '/')
        self._step('network (no networks) on 127.0.0.1:%d'
                   % self.ports['network'])

    def _step(self, text):
        self.progress('cloud: %5.1f s  %s' % (
            time.monotonic() - self.began, text))

    def _databases(self):
        sql = []
        for user, names in DATABASES.items():
            for name in names:
                sql.append('DROP DATABASE IF EXISTS `%s`;' % name)
                sql.append('CREATE DATABASE `%s` CHARACTER SET utf8;' % name)
            for host in ('localhost', '127.0.0.1'):
                sql.append("DROP USER IF EXISTS '%s'@'%s';" % (user, host))
                sql.append("CREATE USER '%s'@'%s' IDENTIFIED BY '%s';" % (
                    user, host, self.db_passwords[user]))
                for name in names:
                    sql.append("GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%s';"
                               % (name, user, host))
        mariadb('\n'.join(sql))

    def values(self, **extra):
        """Every ``${name}`` of etc/cloud/'s files for this run."""
        values = {
            'log_dir': self.log_dir,
            'state_dir': self.state_dir,
            'keystone_port': self.ports['keystone'],
            'rabbit_port': self.rabbit.port,
            'rabbit_password': self.rabbit.password,
        }
        for name in DATABASES:
            values['%s_db_password' % name] = self.db_passwords[name]
        for name, secret in self.passwords.items():
            values['%s_password' % name] = secret
        values.update(extra)
        return values

    def _manage(self, command, *args):
        processes.run([os.path.join(BIN, command)] + list(args),
                      os.path.join(self.log_dir, command + '.log'))

    def _glance(self):
        conf_dir = os.path.join(self.conf_dir, 'glance')
        os.makedirs(conf_dir)
        for name in ('images', 'staging', 'tasks', 'locks'):
            os.makedirs(os.path.join(self.state_dir, 'glance', name))
        conf = snippets.write('glance-api.conf',
                              os.path.join(conf_dir, 'glance-api.conf'),
                              self.values())
        shutil.copy(os.path.join(os.path.dirname(BIN), 'etc', 'glance',
                                 'glance-api-paste.ini'), conf_dir)
        self._manage('glance-manage', '--config-file', conf, 'db_sync')
        self._serve('glance', 'glance.wsgi.api:application',
                    {'OS_GLANCE_CONFIG_DIR': conf_dir}, '/')
        self._step('glance-api on 127.0.0.1:%d' % self.ports['glance'])

    def _placement(self):
        conf_dir = os.path.join(self.conf_dir, 'placement')
        os.makedirs(conf_dir)
        conf = snippets.write('placement.conf',
                              os.path.join(conf_dir, 'placement.conf'),
                              self.values())
        self._manage('placement-manage', '--config-file', conf, 'db', 'sync')
        self._serve('placement', 'placement.wsgi.api:application',
                    {'OS_PLACEMENT_CONFIG_DIR': conf_dir}, '/')
        self._step('placement-api on 127.0.0.1:%d'
                   % self.ports['placement'])

    def _serve(self, name, application, env, path, workers=1):
        process = processes.wsgi(name, application, self.ports[name], BIN,
                                 self.log_dir, env=env, workers=workers)
        self.services[name] = process.start()
        url = 'http://127.0.0.1:%d%s' % (self.ports[name], path)
        processes.wait_until(lambda: processes.http_answers(url), 180,
                             '%s answers' % name, process)

    @property
    def nova_conf(self):
        return os.path.join(self.conf_dir, 'nova', 'nova.conf')

    def nova_service_conf(self, service):
        return os.path.join(self.conf_dir, 'nova', service + '.conf')

    def _nova(self):
        os.makedirs(os.path.join(self.conf_dir, 'nova'))
        os.makedirs(os.path.join(self.state_dir, 'nova', 'locks'))
        snippets.write('nova.conf', self.nova_conf, self.values())
        for service in ('nova-controller', 'nova-api', 'nova-conductor',
                        'nova-scheduler'):
            snippets.write(service + '.conf', self.nova_service_conf(service),
                           self.values())
        conf = ['--config-file', self.nova_conf, '--config-file',
                self.nova_service_conf('nova-controller')]
        self._manage('nova-manage', *conf, 'api_db', 'sync')
        self._manage('nova-manage', *conf, 'cell_v2', 'map_cell0')
        self._manage('nova-manage', *conf, 'cell_v2', 'create_cell',
                     '--name', 'cell1')
        self._manage('nova-manage', *conf, 'db', 'sync')
        self._manage('nova-usb-manage', '--config-file', self.nova_conf,
                     '--config-file', self.nova_service_conf('nova-api'),
                     'db', 'sync')
        for service in ('nova-conductor', 'nova-scheduler'):
            self.services[service] = processes.Process(
                service, [os.path.join(BIN, service)] + conf + [
                    '--config-file', self.nova_service_conf(service)],
                os.path.join(self.log_dir, service + '.stdout.log')).start()
        self._serve('nova', 'nova.wsgi.osapi_compute:application', {
            'OS_NOVA_CONFIG_DIR': os.path.join(self.conf_dir, 'nova'),
            # The paste pipeline first: nova-api loads it from the first
            # file (an absolute path stays as it is).
            'OS_NOVA_CONFIG_FILES': ';'.join(
                (API_PASTE, 'nova.conf', 'nova-controller.conf',
                 'nova-api.conf')),
        }, '/', workers=NOVA_API_WORKERS)
        self._step('nova-api on 127.0.0.1:%d, nova-conductor, '
                   'nova-scheduler' % self.ports['nova'])

    def compute_conf(self, host, **values):
        """nova-compute-HOST.conf for a node; ``values`` as the node's."""
        path = self.nova_service_conf('nova-compute-%s' % host)
        defaults = dict(
            host=host, virt_type=self._virt_type(),
            instances_path=os.path.join(self.state_dir, 'instances-' + host),
            privsep_helper=os.path.join(BIN, 'privsep-helper'),
            nova_conf=self.nova_conf, service_conf=path,
            device_spec=self.device_spec_value())
        defaults.update(values)
        snippets.write('nova-compute.conf', path, self.values(**defaults))
        return path

    def device_spec_value(self):
        """``[usb] device_spec``'s rules as nova-compute.conf's value: one
        rule per line, each after ``device_spec =`` (a multi-valued option).
        """
        return '\ndevice_spec = '.join(self.device_spec)

    @staticmethod
    def _virt_type():
        return 'kvm' if os.path.exists('/dev/kvm') else 'qemu'

    def start_compute(self, host):
        """nova-compute for ``host`` on this machine; waits until it is up
        in the cloud (its service record reports, its node exists).
        """
        conf = self.compute_conf(host)
        os.makedirs(os.path.join(self.state_dir, 'instances-' + host),
                    mode=0o755, exist_ok=True)
        name = 'nova-compute-' + host
        crash_dir = self._crash_dir(host)
        os.makedirs(crash_dir, exist_ok=True)
        # nova-compute's main, with the crash points the scenarios arm
        # (tests/cloud/crashpoints.py; the configuration is the guide's).
        self.services[name] = processes.Process(
            name, [sys.executable, crashpoints.__file__, '--config-file',
                   self.nova_conf, '--config-file', conf],
            os.path.join(self.log_dir, name + '.stdout.log'),
            env={crashpoints.CRASH_DIR: crash_dir}).start()
        self.wait_compute_up(host, self.services[name])

    def _crash_dir(self, host):
        return os.path.join(self.state_dir, 'crash-' + host)

    def arm(self, host, lines):
        """Arm crash points of ``host``'s nova-compute (lines of
        tests.cloud.crashpoints.line).
        """
        if host == self.usb_host:
            return self.usb_node.arm(lines)
        path = os.path.join(self._crash_dir(host), crashpoints.ARMED)
        with open(path + '.new', 'w') as armed:
            armed.write(''.join(entry + '\n' for entry in lines))
        os.rename(path + '.new', path)

    def reached(self, host):
        """The crash points of ``host`` that a change has reached."""
        if host == self.usb_host:
            return self.usb_node.reached()
        try:
            with open(os.path.join(self._crash_dir(host),
                                   crashpoints.REACHED)) as reached:
                return {entry.strip() for entry in reached if entry.strip()}
        except FileNotFoundError:
            return set()

    def disarm(self, host):
        """No crash point armed or reached: what a restart must find."""
        if host == self.usb_host:
            return self.usb_node.disarm()
        for name in (crashpoints.ARMED, crashpoints.REACHED):
            path = os.path.join(self._crash_dir(host), name)
            if os.path.exists(path):
                os.unlink(path)

    def wait_compute_up(self, host, process=None, timeout=180):
        """Until nova-compute of ``host`` reports to the cloud after now
        (a killed one still counts as up until its reports are old).
        """
        admin = self.keystone.admin()
        since = datetime.datetime.utcnow().replace(microsecond=0)

        def up():
            if process is not None and not process.running():
                return False  # wait_until says why
            for service in admin.compute.services(binary='nova-compute',
                                                  host=host):
                if service.state == 'up' and service.updated_at and (
                        _utc(service.updated_at) > since):
                    return True
            return False
        processes.wait_until(up, timeout, 'nova-compute on %s is up' % host,
                             process)

    def add_usb_node(self, node):
        """nova-compute on the nested host (``node``, a
        tests.cloud.nested.NestedNode whose guest serves ssh): the tunnel
        with the control plane's ports, its configuration, the service.
        """
        began = time.monotonic()
        self.usb_node = node
        node.open([self.rabbit.port] + [self.ports[name] for name in (
            'keystone', 'glance', 'placement', 'network')])
        self._step('ssh tunnel to the nested host (pid %d)'
                   % node.tunnel.pid)
        node.write_configuration(self)
        node.start_compute()
        self.wait_compute_up(nested.HOST,
                             timeout=nested.COMPUTE_UP_TIMEOUT)
        self.discover_hosts()
        self._step('nova-compute %s on the nested host (its pid there %d, '
                   'up after %.0f s)' % (nested.HOST,
                                         node.compute_pid,
                                         time.monotonic() - began))

    def compute_hosts(self):
        hosts = [name[len('nova-compute-'):] for name in self.services
                 if name.startswith('nova-compute-')]
        if self.usb_node is not None:
            hosts.append(nested.HOST)
        return hosts

    @property
    def usb_host(self):
        """The node with USB devices (the nested host), or None."""
        return nested.HOST if self.usb_node is not None else None

    def kill_compute(self, host):
        """SIGKILL to nova-compute of ``host``: a crash, no clean-up."""
        if host == self.usb_host:
            self.usb_node.kill_compute()
        else:
            self.services['nova-compute-' + host].kill()

    def restart_compute(self, host):
        """nova-compute of ``host`` again, until it reports up."""
        if host == self.usb_host:
            self.usb_node.start_compute()
            self.wait_compute_up(
                host, timeout=nested.COMPUTE_UP_TIMEOUT)
            return
        process = self.services['nova-compute-' + host]
        process.start()
        self.wait_compute_up(host, process)

    def discover_hosts(self):
        self._manage('nova-manage', '--config-file', self.nova_conf,
                     '--config-file',
                     self.nova_service_conf('nova-controller'),
                     'cell_v2', 'discover_hosts')

    # -- the end -----------------------------------------------------------

    def all_processes(self):
        """Every process, in the order they are stopped."""
        found = [p for name, p in self.services.items()
                 if name.startswith('nova-compute')]
        found += [self.services[name] for name in (
            'nova', 'nova-scheduler', 'nova-conductor', 'placement',
            'glance', 'network', 'keystone') if name in self.services]
        if self.usb_node is not None and self.usb_node.tunnel is not None:
            found.append(self.usb_node.tunnel)
        return found + self.rabbit.processes() + self.libvirtd.processes()

    def stop(self):
        if self.usb_node is not None:
            self.usb_node.close()
        for process in self.all_processes():
            if process in self.libvirtd.processes():
                self.remove_guests()
            try:
                process.stop()
            except OSError:
                pass
        if not self.libvirtd.processes():
            self.remove_guests()
        # What the services started themselves (nova-compute's privsep
        # daemon): found by the run's configuration directory in their
        # command line, stopped by pid.
        processes.stop_pids(processes.left_behind(self.conf_dir))

    def remove_guests(self):
        """This machine's domains of the cloud's servers, whatever state
        the run ended in (libvirt keeps their definitions): by the UUIDs
        of the servers in the cell database.
        """
        try:
            listed = subprocess.run(
                ['mariadb', '-N', '-B', '-e',
                 'SELECT uuid FROM nova.instances'],
                capture_output=True, text=True, check=True).stdout.split()
        except (subprocess.CalledProcessError, OSError):
            return
        for uuid in listed:
            for action in ('destroy', 'undefine'):
                subprocess.run(['virsh', '-c', Libvirtd.URI, action, uuid],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
