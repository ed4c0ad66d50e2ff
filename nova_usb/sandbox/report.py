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

Clients are configured as for any cloud, with an openrc-style environment
or a clouds.yaml entry: keystone's token API is answered by the sandbox's
stand-in (nova_usb.sandbox.auth.Identity), which takes any password and
whose service catalog leads the clients to the sandbox's endpoints.
"""

import textwrap

CLOUD_NAME = 'nova-usb-sandbox'
ADMIN = 'admin'


def environment(settings, user=ADMIN, project=ADMIN):
    """{variable: value} for the openstack and nova clients."""
    return {
        'OS_AUTH_URL': settings.identity_url,
        'OS_IDENTITY_API_VERSION': '3',
        'OS_USERNAME': user,
        'OS_PASSWORD': user,
        'OS_PROJECT_NAME': project,
        'OS_USER_DOMAIN_NAME': 'Default',
        'OS_PROJECT_DOMAIN_NAME': 'Default',
    }


def export_block(settings):
    env = environment(settings)
    return '\n'.join('export %s=%s' % (key, value)
                     for key, value in env.items())


def clouds_yaml(settings, user=ADMIN, project=ADMIN):
    return textwrap.dedent("""\
        clouds:
          %(cloud)s:
            auth:
              auth_url: %(auth_url)s
              username: %(user)s
              password: %(user)s
              project_name: %(project)s
              user_domain_name: Default
              project_domain_name: Default
            identity_api_version: 3
        """) % {'cloud': CLOUD_NAME, 'auth_url': settings.identity_url,
                'user': user, 'project': project}


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
        ('keystone', 'STAND-IN', 'tokens only: any password; the token '
         '"user:project" is trusted'),
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
        '  identity     %s' % settings.identity_url,
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
        'Any user name and password work: user "admin" is an admin, any '
        'other',
        'user a member (and reader) of the project it names.',
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
