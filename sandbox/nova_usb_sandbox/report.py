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
or a clouds.yaml entry: they log in to the sandbox's keystone with a user
name and a password made for this run, and keystone's service catalog
leads them to the sandbox's endpoints.
"""

import textwrap

from nova_usb_sandbox import keystone

CLOUD_NAME = 'nova-usb-sandbox'
ADMIN = 'admin'


def environment(settings, user=ADMIN, project=ADMIN):
    """{variable: value} for the openstack and nova clients."""
    return {
        'OS_AUTH_URL': settings.identity_url,
        'OS_IDENTITY_API_VERSION': '3',
        'OS_USERNAME': user,
        'OS_PASSWORD': settings.keystone.passwords[user],
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
              password: %(password)s
              project_name: %(project)s
              user_domain_name: Default
              project_domain_name: Default
            identity_api_version: 3
        """) % {'cloud': CLOUD_NAME, 'auth_url': settings.identity_url,
                'user': user, 'project': project,
                'password': settings.keystone.passwords[user]}


def parts(facts):
    """(what, REAL/RECORDED/SIMULATED/STAND-IN/ABSENT, how) of each part."""
    rows = [
        ('nova-api', 'REAL', 'Nova %s with nova-usb\'s REST API, over HTTP'
         % facts.nova_version),
        ('conductor, scheduler', 'REAL', 'Nova\'s services'),
        ('nova-compute', 'REAL', 'Nova\'s libvirt driver with nova-usb\'s'),
        ('placement', 'REAL', 'openstack-placement'),
        ('databases', 'REAL', facts.databases or
         'SQLite files in the state directory'),
        ('messaging', 'REAL', 'oslo.messaging, in-process driver'),
        ('keystone', 'REAL', 'keystone %s, fernet tokens, in its own '
         'process' % facts.keystone_version),
        ('quotas', 'REAL', 'Nova\'s unified limits in keystone, usage '
         'counted by placement'),
    ]
    if facts.hypervisor == 'libvirt':
        rows.append(('hypervisor', 'REAL', 'libvirtd (%s) and QEMU (%s): '
                     'servers are real guests, in their firmware'
                     % (facts.libvirtd, 'KVM' if facts.domain_type == 'kvm'
                        else 'TCG')))
    else:
        rows.append(('hypervisor', 'SIMULATED', 'fakelibvirt taught USB: '
                     'no QEMU runs'))
    if facts.usb == 'recorded':
        rows.append(('host USB devices', 'RECORDED', '%d devices from '
                     'demo-devices.umockdev, read by the real libudev'
                     % facts.usb_devices))
    else:
        rows.append(('host USB devices', 'REAL', '%d devices of this host, '
                     'read by pyudev' % facts.usb_devices))
    rows += [
        ('glance', 'STAND-IN', 'in-memory image store, read-only API'),
        ('neutron', 'STAND-IN', 'Nova\'s NeutronFixture: servers have '
         'no network'),
        ('cinder', 'ABSENT', 'no volumes'),
    ]
    if facts.dashboard_url:
        rows.insert(-3, ('dashboard', 'REAL', 'Horizon with nova-usb\'s '
                         'plugin, in its own process'))
        rows.insert(-1, ('network API', 'STAND-IN', 'empty and read-only, '
                         'for the dashboard\'s pages'))
    return rows


def grants_and_quotas(facts):
    """Which project has the demo devices, and the quota of YubiKeys."""
    lines = []
    if facts.granted_project:
        name, project_id = facts.granted_project
        lines += [
            '',
            'USB devices granted to project %s (%s) at start, as an admin '
            'grants them:' % (name, project_id),
            '',
        ]
        lines += ['  %s  %s' % (device_id, what)
                  for device_id, what in facts.granted]
        lines += [
            '',
            'Its members see and attach them (openstack server usb '
            'available SERVER);',
            'other projects see none (other-member\'s project %s has no '
            'device). As admin:' % keystone.OTHER_PROJECT,
            '',
            '  openstack usb device grant list DEVICE_ID',
            '  openstack usb device grant remove DEVICE_ID %s' % project_id,
        ]
    lines += [
        '',
        'Quotas are keystone\'s unified limits: a project may hold %d '
        'YubiKeys (%s);' % (
            keystone.REGISTERED_LIMITS[keystone.USB_KEY_RESOURCE],
            keystone.USB_KEY_RESOURCE),
        'another limit for one project, as admin:',
        '',
        '  openstack limit create --service nova --region %s --project demo '
        '\\' % keystone.REGION,
        '      --resource-limit 1 %s' % keystone.USB_KEY_RESOURCE,
    ]
    return lines


def banner(settings, facts):
    """Everything printed once the sandbox is up."""
    lines = [
        '',
        'nova-usb sandbox: a real Nova with nova-usb (started in %.1f s)'
        % facts.start_seconds,
        '',
        '  compute API   %s' % settings.compute_url,
        '  placement     %s' % settings.placement_url,
        '  images        %s' % settings.image_url,
        '  identity      %s' % settings.identity_url,
    ]
    if facts.dashboard_url:
        lines.append('  dashboard     %s' % facts.dashboard_url)
    lines += [
        '  compute host  %s' % settings.host,
        '  state         %s' % settings.state_dir,
        '                (nova.conf, nova.log, clouds.yaml)',
        '',
        'What is real here:',
        '',
    ]
    rows = parts(facts)
    width = max(len(row[0]) for row in rows)
    for what, kind, how in rows:
        lines.append('  %-*s  %-9s  %s' % (width, what, kind, how))
    if facts.hypervisor != 'libvirt':
        lines += ['', '!' * 72,
                  '!! No real guests: servers are simulated by fakelibvirt.']
        lines += ['!! ' + line for line in textwrap.wrap(
            'Why: %s.' % facts.hypervisor_reason, 69)]
        lines += ['!' * 72]
    lines += [
        '',
        'Use it from another shell, with these variables:',
        '',
    ]
    lines += ['  ' + line for line in export_block(settings).splitlines()]
    lines += [
        '',
        'or with this clouds.yaml entry, also in the state directory',
        '(export OS_CLIENT_CONFIG_FILE=%s/clouds.yaml OS_CLOUD=%s):'
        % (settings.state_dir, CLOUD_NAME),
        '',
    ]
    lines += ['  ' + line for line in clouds_yaml(settings).splitlines()]
    first = facts.assignable[0] if facts.assignable else 'DEVICE_ID'
    second = facts.assignable[1] if len(facts.assignable) > 1 else first
    lines += [
        '',
        'Accounts (keystone; passwords made for this run):',
        '',
        '  %-12s %-8s %s' % (
            'admin', 'admin', 'admin (also member, reader), as above'),
    ]
    for user, (project, roles) in sorted(keystone.ACCOUNTS.items()):
        lines.append('  %-12s %-8s %s   password %s' % (
            user, project, ', '.join(roles),
            settings.keystone.passwords[user]))
    lines += grants_and_quotas(facts)
    if facts.dashboard_url:
        lines += [
            '',
            'Dashboard: open %s and log in with one of these accounts'
            % facts.dashboard_url,
            '(admin\'s password is OS_PASSWORD above); a server\'s USB '
            'devices are',
            'on the "USB Devices" tab of Project > Compute > Instances > '
            'the server,',
            'every host\'s on Admin > Compute > USB Devices.',
        ]
    lines += [
        '',
        'The three use cases:',
        '',
        '  openstack usb device list --host %s' % settings.host,
        '  openstack server create --flavor tiny --image empty --nic none '
        '--wait vm1',
        '  openstack server usb add vm1 %s' % first,
        '  openstack server create --flavor tiny --image empty --nic none '
        '--wait vm2',
        '  openstack server stop vm2',
        '  openstack server usb add vm2 %s' % second,
        '  openstack server usb remove vm1 %s' % first,
        '',
        'Ctrl-C stops the sandbox and everything it started.',
    ]
    return '\n'.join(lines)
