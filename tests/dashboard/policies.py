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

"""Writes the dashboard's default_policies/nova_usb.yaml from nova-usb's
policy code, from the repository's top directory:

    python -m tests.dashboard.policies

It needs nova and nova-usb installed, as nova-api has them; the plugin
(nova-usb-dashboard) does not: Horizon only reads the file.
"""

import re
import sys

import yaml

from nova_usb_dashboard import conf

_RULE = re.compile(r'rule:([A-Za-z0-9_:.-]+)')


def default_policies():
    """nova-usb's rules and the Nova base rules they use, as data."""
    from nova.policies import base

    from nova_usb import policies

    rules = list(policies.list_rules())
    base_rules = {rule.name: rule for rule in base.list_rules()}
    needed = set()
    todo = [name for rule in rules for name in _RULE.findall(rule.check_str)]
    while todo:
        name = todo.pop()
        if name in base_rules and name not in needed:
            needed.add(name)
            todo.extend(_RULE.findall(base_rules[name].check_str))
    chosen = [rule for name, rule in base_rules.items() if name in needed]
    return [{'name': rule.name, 'check_str': rule.check_str,
             'description': rule.description,
             'operations': list(getattr(rule, 'operations', None) or []),
             'scope_types': rule.scope_types}
            for rule in chosen + rules]


def main():
    with open(conf.DEFAULT_POLICY_FILE, 'w') as out:
        yaml.safe_dump(default_policies(), out, default_flow_style=False)
    print('wrote %s' % conf.DEFAULT_POLICY_FILE, file=sys.stderr)


if __name__ == '__main__':
    main()
