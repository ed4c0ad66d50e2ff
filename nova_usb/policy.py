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

"""nova-usb's own policy enforcer.

Nova's enforcer knows only Nova's rules (any other raises
PolicyNotRegistered), so nova-usb checks its rules with an oslo.policy
Enforcer of its own. It reads Nova's configuration and therefore the same
policy file ([oslo_policy] policy_file, policy_dirs), and it registers Nova's
base rules beside nova-usb's: the defaults refer to them
(rule:context_is_admin, rule:project_member_or_admin, ...), so an operator's
override of a base rule applies to nova-usb as it does to Nova.
"""

import threading

import nova.conf
from nova import exception as nova_exception
from nova.policies import base as nova_base_policies
from nova import policy as nova_policy  # noqa: F401  (the is_admin check)
from oslo_policy import policy

from nova_usb import policies

CONF = nova.conf.CONF

_ENFORCER = None
_LOCK = threading.Lock()


def init():
    """The enforcer, built once per process with every default
    registered.
    """
    global _ENFORCER
    if _ENFORCER is None:
        with _LOCK:
            if _ENFORCER is None:
                enforcer = policy.Enforcer(CONF)
                # As Nova: the base rules' deprecated defaults would warn
                # on every load.
                enforcer.suppress_default_change_warnings = True
                enforcer.register_defaults(nova_base_policies.list_rules())
                enforcer.register_defaults(policies.list_rules())
                enforcer.load_rules()
                _ENFORCER = enforcer
    return _ENFORCER


def reset():
    """Forget the enforcer, so that the next check reads the
    configuration anew.
    """
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is not None:
            _ENFORCER.clear()
            _ENFORCER = None


def authorize(context, action, target, fatal=True):
    """Check ``action`` for the caller on ``target``.

    Raises nova's PolicyNotAuthorized (a 403 in nova-api) when refused, or
    returns False if ``fatal`` is False.
    """
    enforcer = init()
    try:
        return enforcer.authorize(action, target, context, do_raise=True,
                                  exc=nova_exception.PolicyNotAuthorized,
                                  action=action)
    except (nova_exception.PolicyNotAuthorized, policy.InvalidScope):
        if fatal:
            raise nova_exception.PolicyNotAuthorized(action=action)
        return False


def get_enforcer():
    """The enforcer for oslo.policy's command line tools (entry point
    ``oslo.policy.enforcer``), with nova-api's configuration files.
    """
    CONF([], project='nova')
    return init()
