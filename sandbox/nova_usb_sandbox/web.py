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


"""The sandbox's HTTP server: one loopback port, one path per service.

Like a DevStack behind its web server, every API of the sandbox is under
one address: nova-api at /compute, placement at /placement, the image
service at /image. The server is the standard library's wsgiref with a
thread per request (nova-api and placement are ordinary WSGI applications,
as under uWSGI or mod_wsgi), bound to 127.0.0.1 only: placement runs on
its noauth2 and the image service is a stand-in, so nothing outside this
machine may reach it. keystone runs in a process of its own
(nova_usb_sandbox.keystone) on the same kind of server.
"""

import logging
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
from wsgiref import simple_server

LOG = logging.getLogger(__name__)
HOST = '127.0.0.1'


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):

    daemon_threads = True
    allow_reuse_address = True
    # The listen backlog. socketserver's default, 5, is for toy servers:
    # when a few dozen clients connect at once (the accept loop runs in
    # one thread), the kernel's queue overflows and connections are reset.
    # Web servers in front of nova-api keep more (uWSGI 100, Apache 511).
    request_queue_size = 128


class _Handler(simple_server.WSGIRequestHandler):

    def log_message(self, format, *args):
        LOG.debug('%s %s', self.address_string(), format % args)

    def get_stderr(self):
        return _LogStream()


class _LogStream(object):
    """wsgiref prints application errors here: into the log instead."""

    def write(self, text):
        if text.strip():
            LOG.error('%s', text.rstrip())

    def flush(self):
        pass


def make_server(port, app):
    """A threaded WSGI server for ``app`` on 127.0.0.1:``port``."""
    server = _Server((HOST, port), _Handler)
    server.set_app(app)
    return server


def serve_in_child(server):
    """Serve, in a process of its own the sandbox started (keystone,
    Horizon), until SIGTERM or until the sandbox is gone, killed included.
    """
    signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),),
                     daemon=True).start()
    server.serve_forever(poll_interval=0.5)


def stop_child(process, timeout):
    """Stop a process the sandbox started, by its pid: SIGTERM, then
    SIGKILL after ``timeout`` seconds. Never raises.
    """
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _exit_with_parent(parent):
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


class Dispatcher(object):
    """Routes /<prefix>/... to the application mounted there."""

    def __init__(self):
        self.apps = {}

    def mount(self, prefix, app):
        self.apps['/' + prefix.strip('/')] = app

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '') or '/'
        for prefix, app in self.apps.items():
            if path == prefix or path.startswith(prefix + '/'):
                environ['SCRIPT_NAME'] = (environ.get('SCRIPT_NAME', '') +
                                          prefix)
                environ['PATH_INFO'] = path[len(prefix):]
                return app(environ, start_response)
        body = ('nova-usb-sandbox serves %s\n' % ', '.join(
            sorted(self.apps))).encode()
        start_response('404 Not Found', [
            ('Content-Type', 'text/plain'),
            ('Content-Length', str(len(body)))])
        return [body]


class WebServer(object):
    """Binds at once, so the port is known before Nova is configured;
    serves once started.
    """

    def __init__(self, port=0):
        self.dispatcher = Dispatcher()
        self._server = make_server(port, self.dispatcher)
        self.port = self._server.server_address[1]
        self.url = 'http://%s:%d' % (HOST, self.port)
        self._thread = None

    def mount(self, prefix, app):
        self.dispatcher.mount(prefix, app)

    def start(self):
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={'poll_interval': 0.2},
            name='sandbox-http', daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()
