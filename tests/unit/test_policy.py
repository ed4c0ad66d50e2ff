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

import os
import subprocess
import sys
import tempfile

import fixtures
from nova import context as nova_context
from nova import exception as nova_exception
from oslo_config import fixture as config_fixture
from oslo_policy import opts as policy_opts
from oslotest import base

from nova_usb import policies
from nova_usb import policy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
PROJECT = 'project-a'


def context(roles, project_id=PROJECT):
    return nova_context.RequestContext('user', project_id, roles=roles)


class PolicyTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(config_fixture.Config(policy.CONF))
        policy_opts.set_defaults(policy.CONF)  # registers [oslo_policy]
        # The enforcer looks its files up through the parsed configuration.
        policy.CONF([], project='nova', default_config_files=[])
        self.policy_file = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'policy.yaml')
        self.conf.config(policy_file=self.policy_file, group='oslo_policy')
        policy.reset()
        self.addCleanup(policy.reset)

    def allowed(self, rule, ctxt):
        return policy.authorize(ctxt, rule, {'project_id': PROJECT},
                                fatal=False)

    def test_secure_rbac_defaults(self):
        """Who passes each rule on a server of project-a."""
        admin = context(['admin', 'member', 'reader'], 'other')
        member = context(['member', 'reader'])
        reader = context(['reader'])
        stranger = context(['member', 'reader'], 'other')
        expected = {
            'nova_usb:host-devices:list': (admin,),
            'nova_usb:host-devices:show': (admin,),
            'nova_usb:device-grants:list': (admin,),
            'nova_usb:device-grants:create': (admin,),
            'nova_usb:device-grants:delete': (admin,),
            'nova_usb:server-devices:list': (admin, member, reader),
            'nova_usb:server-devices:show': (admin, member, reader),
            'nova_usb:server-devices:attach': (admin, member),
            'nova_usb:server-devices:detach': (admin, member),
            'nova_usb:server-devices:show:host_details': (admin,),
            'nova_usb:server-devices:attach:ungranted': (admin,),
            'nova_usb:server-controllers:list': (admin, member, reader),
            'nova_usb:server-controllers:add': (admin, member),
            'nova_usb:server-controllers:remove': (admin, member),
        }
        self.assertEqual(sorted(expected),
                         sorted(r.name for r in policies.list_rules()))
        for rule, allowed in expected.items():
            for ctxt in (admin, member, reader, stranger):
                self.assertEqual(ctxt in allowed,
                                 bool(self.allowed(rule, ctxt)),
                                 '%s for roles %s of %s' % (
                                     rule, ctxt.roles, ctxt.project_id))

    def test_refusal_is_nova_forbidden(self):
        error = self.assertRaises(
            nova_exception.PolicyNotAuthorized, policy.authorize,
            context(['reader']), 'nova_usb:server-devices:attach',
            {'project_id': PROJECT})
        self.assertEqual(403, error.code)
        self.assertIn('nova_usb:server-devices:attach', str(error))

    def test_operator_overrides_in_nova_policy_file(self):
        """An override of a nova-usb rule, or of one of Nova's base rules
        that the defaults refer to, in Nova's policy file applies.
        """
        with open(self.policy_file, 'w') as f:
            f.write('"nova_usb:host-devices:list": "role:reader"\n'
                    '"project_member_or_admin": "role:admin"\n')
        reader = context(['reader'])
        member = context(['member', 'reader'])
        self.assertTrue(self.allowed('nova_usb:host-devices:list', reader))
        self.assertFalse(self.allowed('nova_usb:server-devices:attach',
                                      member))

    def test_sample_is_up_to_date(self):
        """etc/nova/nova-usb.policy.yaml.sample is what genpolicy writes
        now.
        """
        committed = os.path.join(ROOT, 'etc', 'nova',
                                 'nova-usb.policy.yaml.sample')
        with tempfile.TemporaryDirectory() as tmp:
            fresh = os.path.join(tmp, 'sample')
            # Its own process: the generator registers command line
            # options on the global configuration, which other tests parse.
            subprocess.run(
                [sys.executable, '-c',
                 'from oslo_policy import generator; '
                 'generator.generate_sample()',
                 '--namespace', 'nova_usb', '--output-file', fresh],
                check=True, capture_output=True)
            with open(fresh) as f, open(committed) as g:
                self.assertEqual(f.read(), g.read(),
                                 'run "tox -e genpolicy" and commit')
