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

"""The runtime package holds the product alone.

nova-api, nova-compute and the clients load ``nova_usb``: it must bring in
nothing of Nova's tests, of the sandbox (a distribution of its own) or of
the test libraries, on a cloud node none of them is installed.
"""

import json
import os
import subprocess
import sys

from oslotest import base

import nova_usb

# Modules that only the tests and the sandbox may load.
FORBIDDEN = ('nova.tests', 'nova_usb_sandbox', 'tests', 'fixtures',
             'testtools', 'wsgi_intercept', 'placement')

# Imports every module of nova_usb in a fresh interpreter and prints the
# modules then loaded.
IMPORT_ALL = """
import json, pkgutil, sys
import nova_usb
for info in pkgutil.walk_packages(nova_usb.__path__, 'nova_usb.'):
    __import__(info.name)
import nova.virt.usb_libvirt
print(json.dumps(sorted(sys.modules)))
"""


class RuntimePackageTestCase(base.BaseTestCase):

    def test_every_module_loads_nothing_of_the_tests_or_the_sandbox(self):
        env = dict(os.environ, OS_NOVA_DISABLE_EVENTLET_PATCHING='1')
        # Run from / so that this checkout's tests/ is not importable by
        # accident (nova_usb comes from the installed distribution).
        result = subprocess.run(
            [sys.executable, '-c', IMPORT_ALL], cwd='/', env=env,
            capture_output=True, text=True, timeout=300)
        self.assertEqual(0, result.returncode, result.stderr)
        loaded = json.loads(result.stdout.splitlines()[-1])
        self.assertIn('nova_usb.virt.driver', loaded)
        self.assertIn('nova_usb.api.router', loaded)
        leaked = [name for name in loaded
                  if any(name == f or name.startswith(f + '.')
                         for f in FORBIDDEN)]
        self.assertEqual([], leaked)

    def test_the_sandbox_is_not_part_of_the_runtime_package(self):
        package_dir = os.path.dirname(nova_usb.__file__)
        self.assertFalse(os.path.exists(os.path.join(package_dir,
                                                     'sandbox')))
