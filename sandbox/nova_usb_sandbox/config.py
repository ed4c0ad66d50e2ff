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


"""The sandbox's configuration files, written into its state directory.

Nova and placement read real configuration files, exactly as they would on
a compute node, so that what the sandbox runs can be read, copied and
compared with a deployment: ``nova.conf`` and ``placement.conf`` in the
state directory, and nova-usb's own ``api-paste.ini``. Nothing is read
from /etc.

The embedded defaults: SQLite databases in the state directory (or the
databases ``nova_usb_sandbox.mysql`` creates on a MySQL server), nova-usb's
own database among them ([usb_database], where nova-api keeps the grants
of devices to projects), the in-process ('fake') oslo.messaging driver,
keystone itself (``nova_usb_sandbox.keystone``), Nova's quotas as unified
limits in that keystone, services reached on 127.0.0.1 only.
"""

import configparser
from importlib import metadata
import io
import os

from nova_usb_sandbox import keystone


def api_paste_ini():
    """nova-usb's own etc/nova/api-paste.ini, the pipeline operators install.

    A wheel installs it as a data file (``<prefix>/etc/nova-usb/``); an
    editable install from a checkout leaves it in the checkout. One copy,
    read where it is: the sandbox serves exactly the production pipeline,
    keystonemiddleware's auth_token included.
    """
    dist = metadata.distribution('nova-usb')
    for path in dist.files or ():
        if path.name == 'api-paste.ini':
            return str(path.locate())
    import nova_usb
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(
        nova_usb.__file__)))
    candidate = os.path.join(checkout, 'etc', 'nova', 'api-paste.ini')
    if os.path.isfile(candidate):
        return candidate
    raise LookupError('nova-usb\'s api-paste.ini is not installed')


# What Nova's placement client and the sandbox's services send placement
# (placement's own noauth2: user "admin" has the admin role).
PLACEMENT_TOKEN = 'admin'
# Nova's quotas as limits in keystone, counted from placement; the limits
# are registered by nova_usb_sandbox.keystone.
QUOTA_DRIVER = 'nova.quota.UnifiedLimitsDriver'


class Settings(object):
    """What the configuration files are made of.

    :param state_dir: where databases, instances, logs and the files live
    :param host: the compute service's host name ([DEFAULT] host)
    :param base_url: the sandbox's HTTP root, "http://127.0.0.1:PORT"
    :param virt_type: libvirt's domain type, "kvm" or "qemu"
    :param device_spec: [usb] device_spec rules (JSON strings)
    :param debug: log at DEBUG
    :param mysql: a nova_usb_sandbox.mysql.Server holding the databases,
        or None for SQLite files in the state directory
    :param keystone: the sandbox's nova_usb_sandbox.keystone.Keystone
    """

    def __init__(self, state_dir, host, base_url, virt_type='kvm',
                 device_spec=(), debug=False, mysql=None, keystone=None):
        self.state_dir = state_dir
        self.keystone = keystone
        self.host = host
        self.base_url = base_url
        self.virt_type = virt_type
        self.device_spec = list(device_spec)
        self.debug = debug
        self.mysql = mysql

    def path(self, *parts):
        return os.path.join(self.state_dir, *parts)

    def sqlite(self, name):
        return 'sqlite:///' + self.path(name + '.sqlite')

    def connection(self, name):
        """The URL of database ``name`` (nova_api, nova_cell0, nova_cell1,
        placement, nova_usb): a SQLite file, or a database on the MySQL
        server.
        """
        if self.mysql is not None:
            return self.mysql.connection(name)
        return self.sqlite(name)

    @property
    def nova_conf(self):
        return self.path('nova.conf')

    @property
    def placement_conf(self):
        return self.path('placement.conf')

    @property
    def log_file(self):
        return self.path('nova.log')

    @property
    def compute_url(self):
        return self.base_url + '/compute/v2.1'

    @property
    def placement_url(self):
        return self.base_url + '/placement'

    @property
    def identity_url(self):
        return self.keystone.url

    @property
    def image_url(self):
        return self.base_url + '/image'

    def nova_sections(self):
        """nova.conf, section by section (ordered dicts of strings)."""
        return {
            'DEFAULT': {
                'host': self.host,
                'state_path': self.state_dir,
                'instances_path': self.path('instances'),
                'log_file': self.log_file,
                'debug': str(self.debug),
                'transport_url': 'fake:/',
                'compute_driver': 'usb_libvirt.LibvirtUsbDriver',
                'my_ip': '127.0.0.1',
                # Not Nova's "instance-%08x": a libvirtd the sandbox shares
                # with a real nova-compute, or with another sandbox, never
                # sees two domains of one name.
                'instance_name_template':
                    'nova-usb-sandbox-%d-%%08x' % os.getpid(),
                # The sandbox's guests have no network; Nova should not
                # wait for neutron's events.
                'vif_plugging_timeout': '0',
                'vif_plugging_is_fatal': 'False',
                'heal_instance_info_cache_interval': '-1',
                # The sandbox's guests have no operating system to shut
                # down: stop powers them off at once, instead of Nova
                # waiting 60 s for an ACPI shutdown that never comes.
                'shutdown_timeout': '0',
            },
            'api': {
                'auth_strategy': 'keystone',
            },
            'wsgi': {
                'api_paste_config': api_paste_ini(),
            },
            # nova-api validates tokens with keystone as its service user.
            'keystone_authtoken': {
                'www_authenticate_uri': self.identity_url,
                'auth_url': self.identity_url,
                'auth_type': 'password',
                'username': keystone.NOVA_USER,
                'password': self.keystone.passwords[keystone.NOVA_USER],
                'project_name': keystone.SERVICE_PROJECT,
                'user_domain_name': 'Default',
                'project_domain_name': 'Default',
                'region_name': keystone.REGION,
            },
            'database': {
                'connection': self.connection('nova_cell1'),
            },
            'api_database': {
                'connection': self.connection('nova_api'),
            },
            # nova-usb's own: the grants of devices to projects.
            'usb_database': {
                'connection': self.connection('nova_usb'),
            },
            'quota': {
                'driver': QUOTA_DRIVER,
            },
            # oslo.limit reads the limits as Nova's unified limits guide
            # says: as the nova user, system-scoped (keystone gives it the
            # reader role on the system), for the compute service's
            # endpoint. By service type and region rather than endpoint id:
            # the endpoint is made while this file is already written.
            'oslo_limit': {
                'auth_url': self.identity_url,
                'auth_type': 'password',
                'username': keystone.NOVA_USER,
                'password': self.keystone.passwords[keystone.NOVA_USER],
                'user_domain_name': 'Default',
                'system_scope': 'all',
                'endpoint_service_type': 'compute',
                'endpoint_region_name': keystone.REGION,
            },
            'oslo_concurrency': {
                'lock_path': self.path('locks'),
            },
            'oslo_messaging_notifications': {
                'driver': 'noop',
            },
            'oslo_policy': {
                'policy_file': self.path('policy.yaml'),
            },
            'placement': {
                'auth_type': 'admin_token',
                'endpoint': self.placement_url,
                'token': PLACEMENT_TOKEN,
            },
            'glance': {
                # Nova calls the sandbox's image store in-process (see
                # nova_usb_sandbox.images); this is where clients find it.
                'endpoint_override': self.image_url,
            },
            'libvirt': {
                'virt_type': self.virt_type,
                'connection_uri': 'qemu:///system',
                # No <cpu> element: QEMU's default model starts on every
                # host, nested and paravirtualised KVM included.
                'cpu_mode': 'none',
                'device_detach_timeout': '5',
                'device_detach_attempts': '2',
            },
            'vnc': {
                # As in most clouds: guests get a VNC console (on the
                # loopback interface) and with it Nova's USB tablet, so
                # they have a USB controller with a free port for a hot
                # plug. (Without graphics Nova gives them none.)
                'enabled': 'True',
                'server_listen': '127.0.0.1',
                'server_proxyclient_address': '127.0.0.1',
            },
            'spice': {
                'enabled': 'False',
            },
            'scheduler': {
                # The compute host is mapped to its cell as soon as it is
                # up; no one runs "nova-manage cell_v2 discover_hosts".
                'discover_hosts_in_cells_interval': '-1',
            },
            'usb': {
                'device_spec': self.device_spec,
            },
        }

    def placement_sections(self):
        return {
            'DEFAULT': {
                'debug': str(self.debug),
            },
            'api': {
                'auth_strategy': 'noauth2',
            },
            'placement_database': {
                'connection': self.connection('placement'),
                'sync_on_startup': 'True',
            },
        }

    def write(self):
        """Write nova.conf and placement.conf."""
        for name in ('instances', 'locks'):
            os.makedirs(self.path(name), exist_ok=True)
        # nova.conf holds nova's keystone password, and with a MySQL
        # server both hold its password: for this user only.
        _write(self.nova_conf, render(self.nova_sections()), secret=True)
        _write(self.placement_conf, render(self.placement_sections()),
               secret=self.mysql is not None)


def render(sections):
    """An oslo.config file; a list value is a multi-valued option."""
    out = io.StringIO()
    for section, options in sections.items():
        out.write('[%s]\n' % section)
        for key, value in options.items():
            values = value if isinstance(value, list) else [value]
            for one in values:
                out.write('%s = %s\n' % (key, one))
        out.write('\n')
    return out.getvalue()


def paste_sections(text):
    """{section: {key: value}} of a paste ini, for comparing pipelines."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return {name: dict(parser[name]) for name in parser.sections()}


def write_private(path, text):
    """Write a file that holds a password, readable by its owner only.

    It is created with that mode, so no other user can open it even for
    a moment; a file already there is replaced, not rewritten, since
    rewriting would keep its mode.
    """
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as out:
        out.write(text)


def _write(path, text, secret=False):
    if secret:
        write_private(path, text)
        return
    with open(path, 'w') as out:
        out.write(text)
