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

"""The cloud's services as child processes, each with its own log.

Every service runs in the foreground as a direct child of the run (no
``-d``, no pid files written by the daemon itself), so its pid is known
exactly and stopping it means signalling that pid and nothing else.
"""

import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request


class ServiceError(Exception):
    """A service did not start, or did not answer in time."""


EPHEMERAL_RANGE = '/proc/sys/net/ipv4/ip_local_port_range'
LOWEST_PORT = 10000
_handed_out = set()


def free_port():
    """A TCP port on 127.0.0.1 that nothing is bound to now, below the
    kernel's ephemeral range and not handed out before.

    A port is picked when the cloud is set up and bound when its service
    starts, up to a minute later. The kernel never gives a port below that
    range to a connection or to ``bind(port 0)``, so the tests that run
    alongside (tools/run-suites.sh runs two lanes) cannot take it
    meanwhile.
    """
    with open(EPHEMERAL_RANGE) as ports:
        first_ephemeral = int(ports.read().split()[0])
    candidates = list(range(LOWEST_PORT, first_ephemeral))
    random.shuffle(candidates)
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(('127.0.0.1', port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise ServiceError('no free port between %d and %d' % (
        LOWEST_PORT, first_ephemeral))


def wait_until(check, timeout, what, process=None):
    """Poll ``check`` until it is true; fail when ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and not process.running():
            raise ServiceError('%s exited with %s before %s (log: %s)' % (
                process.name, process.popen.returncode, what, process.log))
        time.sleep(0.3)
    raise ServiceError('%s: not within %d s' % (what, timeout))


def port_open(port):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(('127.0.0.1', port)) == 0


def http_answers(url):
    """Any HTTP answer, even an error status, means the server is up."""
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


class Process(object):
    """One service: its command, environment, log file and pid."""

    def __init__(self, name, argv, log, env=None, cwd=None):
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = env
        self.cwd = cwd
        self.popen = None

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def start(self):
        environ = dict(os.environ)
        environ.update(self.env or {})
        with open(self.log, 'ab') as log:
            self.popen = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=environ, cwd=self.cwd,
                start_new_session=True)
        return self

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    def kill(self):
        """SIGKILL, as a crash: the service gets no chance to clean up."""
        if self.running():
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self, timeout=30):
        """SIGTERM to the pid, SIGKILL after ``timeout`` seconds."""
        if not self.running():
            return
        os.kill(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


def run(argv, log, env=None, timeout=600):
    """A one-off command (db sync, bootstrap), its output into ``log``."""
    environ = dict(os.environ)
    environ.update(env or {})
    with open(log, 'ab') as out:
        out.write(('$ %s\n' % ' '.join(argv)).encode())
        out.flush()
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=environ,
                                timeout=timeout)
    if result.returncode:
        raise ServiceError('%s exited with %d (log: %s)' % (
            ' '.join(argv[:3]), result.returncode, log))


def wsgi(name, application, port, bin_dir, log_dir, env=None, workers=1):
    """A WSGI application under uWSGI, as devstack and many clouds run
    OpenStack's APIs: a master process, ``workers`` worker processes, HTTP
    on 127.0.0.1:``port``; SIGTERM stops it (not uWSGI's default reload).
    """
    argv = [
        os.path.join(bin_dir, 'uwsgi'),
        '--procname-prefix', '%s ' % name,
        '--http-socket', '127.0.0.1:%d' % port,
        '--module', application,
        '--home', os.path.dirname(bin_dir),
        '--master', '--processes', str(workers), '--threads', '1',
        '--enable-threads', '--lazy-apps', '--die-on-term',
        '--exit-on-reload', '--buffer-size', '65535',
        '--hook-master-start', 'unix_signal:15 gracefully_kill_them_all',
        '--add-header', 'Connection: close',
    ]
    return Process(name, argv, os.path.join(log_dir, '%s.uwsgi.log' % name),
                   env=env)


def left_behind(marker):
    """Pids of processes whose command line names ``marker`` (the run's
    directory): what a service started itself and did not stop, such as
    the privsep daemon of a nova-compute killed with SIGKILL.
    """
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as cmdline:
                argv = cmdline.read().decode(errors='replace')
        except OSError:
            continue
        if marker in argv:
            found.append(int(entry))
    return found


def stop_pids(pids, timeout=10):
    """SIGTERM to each pid, SIGKILL to those left after ``timeout`` s."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if os.path.exists('/proc/%d' % pid)]
        time.sleep(0.3)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
