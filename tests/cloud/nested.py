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

"""The cloud's USB node: nova-compute on the e2e suite's nested test host.

The nested host (tests/e2e/vm.py) has real kernel USB and its own
libvirtd, and no network at all. The control plane reaches it, and it
reaches the control plane, over one ssh connection carried by a
virtio-serial port: inside, ``sshd -i`` reads and writes the port
(tests/e2e/guest/init.sh); outside, ssh's ProxyCommand is ``socat`` on the
port's unix socket in QEMU. That connection is the master of an ssh
control socket (every later command shares it) and carries remote
forwards ``-R 127.0.0.1:PORT:127.0.0.1:PORT`` for RabbitMQ, keystone,
placement, glance and the network service, so that the node's nova.conf
names the same ``127.0.0.1`` addresses as the others'. No address but
127.0.0.1 is used on either side.

The node's configuration files are rendered from etc/cloud/ like node 1's
and written into the 9p share (``out/cloud/etc``); its logs are written
into the share too (``out/cloud/logs``).
"""

import os
import shlex
import shutil
import subprocess
import time

from tests.cloud import crashpoints
from tests.cloud import processes

HOST = 'node2'
GUEST_NAME = 'nested-usb-host'
SSH_PORT_NAME = 'org.openstack.nova-usb.ssh'
GUEST_SHARE = '/mnt/out'
GUEST_VENV = '/opt/nova-usb'
GUEST_STATE = '/var/lib/nova-usb-cloud'
GUEST_CRASH_DIR = GUEST_STATE + '/crash'
GUEST_FORK_DIR = GUEST_STATE + '/fork-server'
READY_TIMEOUT = 15 * 60
COMPUTE_UP_TIMEOUT = 10 * 60


def key_paths(run_dir):
    return os.path.join(run_dir, 'cloud-key'), os.path.join(
        run_dir, 'out', 'cloud', 'authorized_keys')


def prepare(run_dir):
    """Before the nested host boots: a key pair for this run (the private
    half stays outside), the public half where the guest's init takes it.
    """
    private, authorized = key_paths(run_dir)
    os.makedirs(os.path.dirname(authorized), exist_ok=True)
    for path in (private, private + '.pub'):
        if os.path.exists(path):
            os.unlink(path)
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C',
                    'nova-usb-cloud', '-f', private], check=True)
    with open(private + '.pub') as public, open(authorized, 'w') as out:
        out.write(public.read())


class NestedNode(object):
    """nova-compute ``node2`` on the nested host, through the tunnel.

    :param run_dir: the e2e run directory (QEMU's sockets, ``out/``)
    :param host: the running nested host (a tests.e2e.vm.NestedHost): its
        QEMU process, and its USB devices to pull out and plug back
    :param log_dir: the cloud's log directory (the tunnel's log)
    """

    def __init__(self, run_dir, host, log_dir=None):
        self.run_dir = run_dir
        self.host = host
        self.log_dir = log_dir
        self.key, _ = key_paths(run_dir)
        self.socket = os.path.join(run_dir, 'ssh.sock')
        self.control = os.path.join(run_dir, 'ssh-control')
        self.share = os.path.join(run_dir, 'out', 'cloud')
        self.tunnel = None
        self.fork_server_pid = None
        self.compute_pid = None

    def ready_marker(self):
        return os.path.join(self.share, 'ready')

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Until the guest's init has sshd on the port (after the e2e
        suites), or QEMU is gone.
        """
        qemu = self.host.process
        processes.wait_until(
            lambda: (os.path.exists(self.ready_marker()) or
                     qemu.poll() is not None), timeout,
            'the nested host serves ssh')
        if qemu.poll() is not None:
            raise processes.ServiceError('the nested host stopped')

    def _options(self):
        return [
            '-F', '/dev/null', '-i', self.key,
            '-o', 'IdentitiesOnly=yes',
            '-o', 'StrictHostKeyChecking=no',
            '-o', 'UserKnownHostsFile=/dev/null',
            '-o', 'LogLevel=ERROR',
            '-o', 'ServerAliveInterval=30',
            '-o', 'ControlPath=' + self.control,
        ]

    def open(self, ports):
        """The tunnel: ssh's master connection with a remote forward for
        each of ``ports`` (127.0.0.1 on both ends).
        """
        argv = ['ssh'] + self._options() + [
            '-o', 'ProxyCommand=socat - UNIX-CONNECT:' + self.socket,
            '-o', 'ControlMaster=yes', '-o', 'ExitOnForwardFailure=yes',
            '-N']
        for port in ports:
            argv += ['-R', '127.0.0.1:%d:127.0.0.1:%d' % (port, port)]
        argv.append('root@' + GUEST_NAME)
        self.tunnel = processes.Process(
            'ssh-tunnel', argv, os.path.join(self.log_dir, 'ssh-tunnel.log'))
        self.tunnel.start()
        processes.wait_until(self._master_up, 120, 'the ssh tunnel is up',
                             self.tunnel)

    def _master_up(self):
        return subprocess.run(
            ['ssh'] + self._options() + ['-O', 'check', 'root@' + GUEST_NAME],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode == 0

    def run(self, command, check=True, timeout=600, stdin=''):
        """A shell command on the nested host, over the tunnel; its
        output.
        """
        result = subprocess.run(
            ['ssh'] + self._options() + ['root@' + GUEST_NAME, command],
            input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode:
            raise processes.ServiceError('on the nested host: %s: exit %d: %s'
                                         % (command, result.returncode,
                                            result.stderr.strip()))
        return result.stdout

    def popen(self, command):
        """A shell command on the nested host, over the tunnel, left
        running: a subprocess.Popen whose standard input and output are
        line-buffered text pipes (its errors go where the caller's go).
        """
        return subprocess.Popen(
            ['ssh'] + self._options() + ['root@' + GUEST_NAME, command],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            bufsize=1)

    # -- nova-compute on the node ------------------------------------------

    def guest_path(self, *parts):
        return os.path.join(GUEST_SHARE, 'cloud', *parts)

    def write_configuration(self, cloud):
        """nova.conf and nova-compute-node2.conf, for the node's paths."""
        etc = os.path.join(self.share, 'etc')
        os.makedirs(etc, exist_ok=True)
        os.makedirs(os.path.join(self.share, 'logs'), exist_ok=True)
        values = dict(state_dir=GUEST_STATE,
                      log_dir=self.guest_path('logs'))
        from tests.cloud import snippets
        snippets.write('nova.conf', os.path.join(etc, 'nova.conf'),
                       cloud.values(**values))
        snippets.write(
            'nova-compute.conf',
            os.path.join(etc, 'nova-compute-%s.conf' % HOST),
            cloud.values(
                host=HOST, virt_type='qemu',
                instances_path=GUEST_STATE + '/instances',
                privsep_helper=GUEST_VENV + '/bin/privsep-helper',
                nova_conf=self.guest_path('etc', 'nova.conf'),
                service_conf=self.guest_path('etc',
                                             'nova-compute-%s.conf' % HOST),
                device_spec=cloud.device_spec_value(), **values))
        shutil.copy(crashpoints.__file__,
                    os.path.join(self.share, 'crashpoints.py'))
        self.run('mkdir -p %s/nova/locks %s/instances %s && chmod 755 %s '
                 '%s/instances' % (GUEST_STATE, GUEST_STATE, GUEST_CRASH_DIR,
                                   GUEST_STATE, GUEST_STATE))

    def start_fork_server(self):
        """nova-compute's modules imported once on the node, its crash
        points wrapped (tests/cloud/crashpoints.py --fork-server, copied
        into the share): every start of nova-compute forks from it. Its
        directory and FIFO are made in the foreground; the fork server
        itself runs in the background as one simple command (not part of
        a list, whose subshell would keep ssh's channel open): $! is its
        pid, as setsid execs it.
        """
        requests = '%s/%s' % (GUEST_FORK_DIR, crashpoints.REQUESTS)
        command = (
            'mkdir -p %s && rm -f %s/* && mkfifo %s && cd / || exit 1; '
            'OS_NOVA_DISABLE_EVENTLET_PATCHING=1 %s=%s setsid '
            '%s/bin/python %s --fork-server %s %s '
            '--config-file %s --config-file %s '
            '>>%s 2>&1 </dev/null & echo $!' % (
                GUEST_FORK_DIR, GUEST_FORK_DIR, requests,
                crashpoints.CRASH_DIR, GUEST_CRASH_DIR, GUEST_VENV,
                self.guest_path('crashpoints.py'), GUEST_FORK_DIR,
                self.guest_path('logs', 'nova-compute-%s.stdout.log' % HOST),
                self.guest_path('etc', 'nova.conf'),
                self.guest_path('etc', 'nova-compute-%s.conf' % HOST),
                self.guest_path('logs', 'fork-server.log')))
        self.fork_server_pid = int(self.run(command).strip())

    def start_compute(self):
        """nova-compute on the node, forked by the fork server (started
        first if need be); returns its pid. The request waits while the
        fork server still imports.
        """
        if self.fork_server_pid is None:
            self.start_fork_server()
        # Waits for DIR/ready (every 0.5 s, up to COMPUTE_UP_TIMEOUT) while
        # the fork server lives, asks for a start, reads the child's pid.
        self.compute_pid = int(self.run(
            'for i in $(seq {t}); do [ -e {d}/{ready} ] && break; '
            'kill -0 {server} || exit 1; sleep 0.5; done && '
            'rm -f {d}/{pid} && echo start >{d}/{requests} && '
            'for i in $(seq 300); do [ -s {d}/{pid} ] && break; '
            'sleep 0.2; done && cat {d}/{pid}'.format(
                d=GUEST_FORK_DIR, ready=crashpoints.READY,
                pid=crashpoints.PID, requests=crashpoints.REQUESTS,
                server=self.fork_server_pid, t=2 * COMPUTE_UP_TIMEOUT),
            timeout=COMPUTE_UP_TIMEOUT + 60).strip())
        return self.compute_pid

    def arm(self, lines):
        """Arm crash points of the node's nova-compute."""
        self.run('cat > %s/armed.new && mv %s/armed.new %s/%s' % (
            GUEST_CRASH_DIR, GUEST_CRASH_DIR, GUEST_CRASH_DIR,
            crashpoints.ARMED), stdin=''.join(e + '\n' for e in lines))

    def reached(self):
        out = self.run('cat %s/%s 2>/dev/null || true' % (
            GUEST_CRASH_DIR, crashpoints.REACHED))
        return {entry.strip() for entry in out.splitlines() if entry.strip()}

    def disarm(self):
        self.run('rm -f %s/%s %s/%s' % (GUEST_CRASH_DIR, crashpoints.ARMED,
                                        GUEST_CRASH_DIR, crashpoints.REACHED))

    def kill_compute(self):
        """SIGKILL to the node's nova-compute, by its pid; waits until the
        process is gone.
        """
        self.run('kill -9 %d' % self.compute_pid)
        self._wait_gone(self.compute_pid)

    def stop_compute(self):
        if self.compute_pid is None or self.tunnel is None or \
                not self.tunnel.running():
            return
        self.run('kill %d' % self.compute_pid, check=False)
        if not self._wait_gone(self.compute_pid, 30, fail=False):
            self.run('kill -9 %d' % self.compute_pid, check=False)
        self.compute_pid = None

    def _wait_gone(self, pid, timeout=60, fail=True):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run('kill -0 %d 2>/dev/null && echo alive || true' % pid
                        ).strip() != 'alive':
                return True
            time.sleep(1)
        if fail:
            raise processes.ServiceError('pid %d still runs on the nested '
                                         'host' % pid)
        return False

    def info_usb(self, domain):
        """HMP ``info usb`` of a nested guest's QEMU: what it holds."""
        return self.run('virsh -c qemu:///system qemu-monitor-command '
                        '--hmp %s "info usb"' % shlex.quote(domain))

    def unplug(self, device):
        """Pull ``device`` (an id of tests/e2e/topology.json) out of the
        nested host, as QEMU's device_del: the host's kernel sees it go.
        """
        self.host.unplug(device)

    def plug(self, device):
        """Plug ``device`` back into its port (QEMU's device_add)."""
        self.host.plug(device)

    def domain_xml(self, domain, persistent=False):
        """A nested guest's libvirt XML, live or persistent."""
        return self.run('virsh -c qemu:///system dumpxml %s %s' % (
            '--inactive' if persistent else '', shlex.quote(domain)))

    def close(self):
        """nova-compute on the node, then the tunnel, each by its pid."""
        try:
            self.stop_compute()
            if self.fork_server_pid is not None:
                self.run('kill %d' % self.fork_server_pid, check=False)
                self._wait_gone(self.fork_server_pid, 30, fail=False)
        except (processes.ServiceError, subprocess.SubprocessError, OSError):
            pass
        if self.tunnel is not None:
            self.tunnel.stop()
