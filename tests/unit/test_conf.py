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
import tempfile

from oslo_config import generator
from oslotest import base

from nova_usb import conf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


class ConfTestCase(base.BaseTestCase):

    def test_registered_on_nova_conf(self):
        self.assertEqual([], conf.CONF.usb.device_spec)

    def test_sample_is_up_to_date(self):
        """etc/nova/nova-usb.conf.sample is what genconfig writes now."""
        committed = os.path.join(ROOT, 'etc', 'nova', 'nova-usb.conf.sample')
        with tempfile.TemporaryDirectory() as tmp:
            fresh = os.path.join(tmp, 'sample')
            generator.main(['--namespace', 'nova_usb', '--wrap-width', '79',
                            '--output-file', fresh])
            with open(fresh) as f, open(committed) as g:
                self.assertEqual(f.read(), g.read(),
                                 'run "tox -e genconfig" and commit')
