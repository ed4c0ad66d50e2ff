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

"""--dashboard: Horizon with nova-usb's plugin, on the sandbox's keystone.

Horizon (from PyPI) is Django, whose settings are process-wide: it runs in
a process of its own, as keystone does, under the standard library's
threaded WSGI server on 127.0.0.1. Its settings are Horizon's own, read
from a local_settings.py the sandbox writes into its state directory:
keystone's URL, a cookie-signed session, nova-usb's policy registered as
the "nova_usb" service. nova-usb's plugin is enabled the way an operator
enables it, from its enabled/ files, found here beside Horizon's
openstack_dashboard/local/enabled without writing into Horizon's
installed files.

Static files are served from where they are (Django's staticfiles
finders), uncompressed (COMPRESS_ENABLED=False: no offline compression
run, which costs minutes); Horizon's SCSS is still compiled to CSS once,
into a cache directory kept between runs and keyed by the versions of
Horizon and of the plugin, and the process compiles it before it answers
as ready, so that the first page a user opens is as fast as the next.

    python -m nova_usb_sandbox.dashboard HORIZON_DIR PORT

is the Horizon process.
"""

import hashlib
import os
import secrets
import subprocess
import sys
import threading
import time

from nova_usb_sandbox import keystone
from nova_usb_sandbox import web

READY_TIMEOUT = 120
STOP_TIMEOUT = 10
# Pages fetched before the process says it is ready: the login page
# compiles Horizon's SCSS on its first rendering.
WARM_UP = ('/auth/login/',)
READY_FILE = 'ready'

LOCAL_SETTINGS = """\
# Written by nova-usb-sandbox for this run: Horizon's local settings.
from openstack_dashboard import defaults as _defaults

DEBUG = False
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
SECRET_KEY = %(secret_key)r
LOCAL_PATH = %(horizon_dir)r
OPENSTACK_KEYSTONE_URL = %(keystone_url)r
OPENSTACK_KEYSTONE_DEFAULT_ROLE = 'member'
OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT = False
SESSION_ENGINE = 'django.contrib.sessions.backends.signed_cookies'
CACHES = {'default': {
    'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}
COMPRESS_ENABLED = False
COMPRESS_OFFLINE = False
COMPRESS_ROOT = %(compress_root)r
STATIC_ROOT = %(static_root)r
POLICY_FILES = dict(_defaults.POLICY_FILES, nova_usb=%(policy_file)r)
DEFAULT_POLICY_FILES = dict(_defaults.DEFAULT_POLICY_FILES,
                            nova_usb=%(default_policy_file)r)
LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'file': {'class': 'logging.FileHandler',
                          'filename': %(log_file)r}},
    'root': {'handlers': ['file'], 'level': %(log_level)r},
}
"""


class Unavailable(Exception):
    """Horizon could not start; the message says where to look."""


def cache_dir():
    """Compiled CSS, kept between runs, per Horizon and plugin version."""
    from importlib import metadata

    import nova_usb_dashboard
    digest = hashlib.sha256()
    plugin = os.path.dirname(os.path.abspath(nova_usb_dashboard.__file__))
    for root, dirs, files in sorted(os.walk(plugin)):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(('.scss', '.css', '.html', '.js')):
                with open(os.path.join(root, name), 'rb') as source:
                    digest.update(source.read())
    base = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser(
        '~/.cache')
    return os.path.join(base, 'nova-usb-sandbox', 'horizon-%s-%s' % (
        metadata.version('horizon'), digest.hexdigest()[:12]))


class Dashboard(object):
    """Horizon for one sandbox.

    :param state_dir: where its settings and log go
    :param keystone_url: the identity endpoint users log in with
    :param debug: Horizon logs at DEBUG
    """

    def __init__(self, state_dir, keystone_url, debug=False):
        self.horizon_dir = os.path.join(state_dir, 'horizon')
        self.keystone_url = keystone_url
        self.debug = debug
        self.port = keystone.free_port()
        self.url = 'http://127.0.0.1:%d/' % self.port
        self.log_file = os.path.join(state_dir, 'horizon.log')
        self.process = None

    def start(self):
        from nova_usb_dashboard import conf as plugin_conf
        local = os.path.join(self.horizon_dir, 'local')
        os.makedirs(local)
        compress_root = cache_dir()
        os.makedirs(compress_root, exist_ok=True)
        open(os.path.join(local, '__init__.py'), 'w').close()
        fd = os.open(os.path.join(local, 'local_settings.py'),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as out:
            out.write(LOCAL_SETTINGS % {
                'secret_key': secrets.token_urlsafe(32),
                'horizon_dir': self.horizon_dir,
                'keystone_url': self.keystone_url,
                'compress_root': compress_root,
                'static_root': os.path.join(self.horizon_dir, 'static'),
                'policy_file': plugin_conf.POLICY_FILE,
                'default_policy_file': plugin_conf.DEFAULT_POLICY_FILE,
                'log_file': self.log_file,
                'log_level': 'DEBUG' if self.debug else 'INFO'})
        with open(self.log_file, 'a') as log:
            self.process = subprocess.Popen(
                [sys.executable, '-m', __name__, self.horizon_dir,
                 str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)

    def wait(self, timeout=READY_TIMEOUT):
        """Until Horizon has compiled its styles and answers."""
        ready = os.path.join(self.horizon_dir, READY_FILE)
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready):
            if self.process.poll() is not None:
                raise Unavailable('the Horizon process exited with %d (see '
                                  '%s)' % (self.process.returncode,
                                           self.log_file))
            if time.monotonic() > deadline:
                raise Unavailable('Horizon was not ready within %d s (see '
                                  '%s)' % (timeout, self.log_file))
            time.sleep(0.2)

    def stop(self):
        """Stop the Horizon process (by its pid); never raises."""
        web.stop_child(self.process, STOP_TIMEOUT)


def application(horizon_dir):
    """Horizon's WSGI application with nova-usb's plugin enabled, and its
    static files.
    """
    # Horizon's settings import "local.local_settings": the state's.
    sys.path.insert(0, horizon_dir)
    import nova_usb_dashboard.enabled
    from openstack_dashboard.local import enabled as local_enabled
    local_enabled.__path__.extend(nova_usb_dashboard.enabled.__path__)
    os.environ['DJANGO_SETTINGS_MODULE'] = 'openstack_dashboard.settings'
    from django.contrib.staticfiles import handlers
    from django.core import wsgi
    return handlers.StaticFilesHandler(wsgi.get_wsgi_application())


def warm_up(port):
    import requests
    for path in WARM_UP:
        requests.get('http://127.0.0.1:%d%s' % (port, path), timeout=300)


def serve(horizon_dir, port):
    """Horizon on 127.0.0.1:port until SIGTERM or the sandbox's end."""
    server = web.make_server(port, application(horizon_dir))

    def ready():
        warm_up(port)
        open(os.path.join(horizon_dir, READY_FILE), 'w').close()

    threading.Thread(target=ready, daemon=True).start()
    web.serve_in_child(server)


if __name__ == '__main__':
    serve(sys.argv[1], int(sys.argv[2]))
