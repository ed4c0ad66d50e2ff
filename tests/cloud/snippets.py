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

"""The configuration files of etc/cloud/, filled in for one run.

The operator guide (doc/source/admin/deployment.rst) includes the same
files, so what the guide says and what the cloud runs cannot differ. A
``${name}`` is a value of the deployment (a port, a generated password, a
directory); every one must be given.
"""

import os
import string

SNIPPETS = os.path.join(os.path.dirname(__file__), '..', '..', 'etc',
                        'cloud')


def render(name, values):
    with open(os.path.join(SNIPPETS, name)) as source:
        return string.Template(source.read()).substitute(values)


def write(name, path, values):
    """etc/cloud/``name`` filled in, at ``path``, readable by root only
    (it holds passwords).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as out:
        out.write(render(name, values))
    return path
