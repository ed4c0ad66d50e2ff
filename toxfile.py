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

"""tox plugin (loaded by tox from the project root): one shared virtualenv.

Every environment in tox.ini lives in ``.tox/venv`` with one list of deps,
because nova is large to install. tox remembers the name of the
environment that created a virtualenv and recreates it for any other name,
so ``tox -e sandbox`` after ``tox -e all`` would throw away and reinstall
everything (minutes). Before tox looks, this tells it that the virtualenv
belongs to the environment about to use it; the deps and the package are
still compared as usual, and a change there still rebuilds it.
"""

import json
import pathlib

from tox.plugin import impl

SHARED_ENV_DIR = 'venv'


@impl
def tox_add_env_config(env_conf, state):
    if env_conf.name not in set(state.conf.options.env or ()):
        return
    info = (pathlib.Path(state.conf.core['work_dir']) / SHARED_ENV_DIR /
            '.tox-info.json')
    try:
        data = json.loads(info.read_text())
    except (OSError, ValueError):
        return
    owner = data.get('ToxEnv')
    if isinstance(owner, dict) and owner.get('name') != env_conf.name:
        owner['name'] = env_conf.name
        info.write_text(json.dumps(data, indent=2))
