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


"""What the sandbox prints: where it is, how to use it, what is real.

The environment block and the clouds.yaml entry are what the openstack
and nova clients need to reach a Nova without keystone: keystoneauth's
``admin_token`` plugin sends a fixed token (the sandbox's "user:project"
token, see nova_usb.sandbox.auth) to a fixed endpoint, and per-service
endpoint overrides point the clients at the image service and placement.
"""

import textwrap

CLOUD_NAME = 'nova-usb-sandbox'
ADMIN_TOKEN = 'admin:admin'


def environment(settings, token=ADMIN_TOKEN):
    """{variable: value} for the openstack and nova clients."""
    return {
        'OS_AUTH_TYPE': 'admin_token',
        'OS_ENDPOINT': settings.compute_url,
        'OS_TOKEN': token,
        'OS_COMPUTE_ENDPOINT_OVERRIDE': settings.compute_url,
        'OS_IDENTITY_ENDPOINT_OVERRIDE': settings.identity_url,
        'OS_IMAGE_ENDPOINT_OVERRIDE': settings.image_url,
        'OS_PLACEMENT_ENDPOINT_OVERRIDE': settings.placement_url,
        'OS_COMPUTE_API_VERSION': '2.latest',
    }


def export_block(settings):
    env = environment(settings)
    return '\n'.join('export %s=%s' % (key, value)
                     for key, value in env.items())


def clouds_yaml(settings, token=ADMIN_TOKEN):
    return textwrap.dedent("""\
        clouds:
          %(cloud)s:
            auth_type: admin_token
            auth:
              endpoint: %(compute)s
              token: "%(token)s"
            compute_endpoint_override: %(compute)s
            identity_endpoint_override: %(identity)s
            image_endpoint_override: %(image)s
            placement_endpoint_override: %(placement)s
            compute_api_version: "2.latest"
        """) % {'cloud': CLOUD_NAME, 'compute': settings.compute_url,
                'identity': settings.identity_url,
                'image': settings.image_url,
                'placement': settings.placement_url, 'token': token}


def parts(facts):
    """(what, REAL/RECORDED/SIMULATED/STAND-IN, how) of each part."""
    rows = [
        ('nova-api', 'REAL', 'Nova %s, nova-usb REST API, HTTP on '
         '127.0.0.1' % facts.nova_version),
        ('conductor, scheduler', 'REAL', 'Nova\'s services'),
        ('nova-compute', 'REAL', 'Nova\'s libvirt driver with nova-usb\'s '
         '(usb_libvirt.LibvirtUsbDriver)'),
        ('placement', 'REAL', 'openstack-placement'),
        ('databases', 'REAL', 'SQLite files in the state directory'),
        ('messaging', 'REAL', 'oslo.messaging, in-process driver'),
    ]
    if facts.hypervisor == 'libvirt':
        rows.append(('hypervisor', 'REAL', 'libvirtd (%s) and QEMU (%s); '
                     'servers are real guests sitting in their firmware'
                     % (facts.libvirtd, facts.domain_type.upper()
                        if facts.domain_type == 'kvm' else 'TCG')))
    else:
        rows.append(('hypervisor', 'SIMULATED', 'fakelibvirt taught USB, '
                     'no QEMU: %s' % facts.hypervisor_reason))
    if facts.usb == 'recorded':
        rows.append(('host USB devices', 'RECORDED', '%d devices from '
                     'demo-devices.umockdev, read by the real libudev '
                     '(umockdev)' % facts.usb_devices))
    else:
        rows.append(('host USB devices', 'REAL', '%d devices of this host, '
                     'read by pyudev' % facts.usb_devices))
    rows += [
        ('keystone', 'STAND-IN', 'none: token "user:project" is trusted'),
        ('glance', 'STAND-IN', 'embedded image store, read-only Image API'),
        ('neutron', 'STAND-IN', 'Nova\'s NeutronFixture: boot with '
         '--nic none'),
        ('cinder', 'ABSENT', 'no volumes'),
    ]
    return rows


def banner(settings, facts):
    """Everything printed once the sandbox is up."""
    lines = [
        '',
        'nova-usb sandbox: a real Nova with nova-usb (started in %.1f s)'
        % facts.start_seconds,
        '',
        '  compute API  %s' % settings.compute_url,
        '  placement    %s' % settings.placement_url,
        '  images       %s' % settings.image_url,
        '  compute host %s' % settings.host,
        '  state        %s (nova.conf, nova.log, clouds.yaml)'
        % settings.state_dir,
        '',
        'What is real here:',
    ]
    width = max(len(row[0]) for row in parts(facts))
    for what, kind, how in parts(facts):
        lines.append('  %-*s  %-9s  %s' % (width, what, kind, how))
    if facts.hypervisor != 'libvirt':
        lines += ['', '!' * 72,
                  '!! No real guests: servers are simulated by fakelibvirt.',
                  '!! Why: %s' % facts.hypervisor_reason,
                  '!' * 72]
    lines += [
        '',
        'Use it from another shell, either with these variables:',
        '',
    ]
    lines += ['  ' + line for line in export_block(settings).splitlines()]
    lines += [
        '',
        'or with this clouds.yaml entry (also written to %s/clouds.yaml;'
        % settings.state_dir,
        'export OS_CLIENT_CONFIG_FILE=%s/clouds.yaml OS_CLOUD=%s):'
        % (settings.state_dir, CLOUD_NAME),
        '',
    ]
    lines += ['  ' + line for line in clouds_yaml(settings).splitlines()]
    lines += [
        '',
        'The token is "user:project": admin:admin is an admin; demo:demo '
        'a member of project demo.',
        '',
        'Then, for example:',
        '',
        '  openstack usb device list --host %s' % settings.host,
        '  openstack server create --flavor tiny --image empty --nic none '
        '--wait vm1',
        '  openstack server usb add vm1 DEVICE_ID',
        '  nova host-usb-list %s' % settings.host,
        '',
        'Ctrl-C stops the sandbox and everything it started.',
    ]
    return '\n'.join(lines)
