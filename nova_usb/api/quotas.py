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

"""Quotas on the USB devices a project holds: Nova's unified limits.

With Nova's ``[quota] driver = nova.quota.UnifiedLimitsDriver``, limits in
keystone cap what placement counts for a project, resource class by
resource class (``class:CUSTOM_USB_1050_0407``). Nova enforces them when a
server boots with a flavor that asks for devices; an attach through
nova-usb's API is checked here, against the same limits and the same
usages (every device a project holds is in its servers' allocations,
nova_usb.virt.placement), with Nova's own enforcer and its rule for
resources that have no registered limit (``[quota]
unified_limits_resource_strategy``).

The check comes before the attach, as Nova's does before a boot; two
attaches of one project at the same moment may both pass it, as two boots
may with ``[quota] recheck_quota`` off.
"""

from nova.limit import placement as placement_limits
from nova.limit import utils as limit_utils
from nova.scheduler.client import report
from oslo_limit import exception as limit_exceptions

from nova_usb import exception

# Placement's microversion for the inventories of a provider.
_VERSION = '1.26'


def device_resource_class(context, device_id):
    """The resource class of the device's provider in placement, or None
    when placement has none (not reported yet: nothing counts it).
    """
    client = report.report_client_singleton()
    try:
        answer = client.get('/resource_providers/%s/inventories' % device_id,
                            version=_VERSION,
                            global_request_id=context.global_id)
    except Exception as e:
        raise exception.UsbQuotaUnchecked(device_id=device_id, reason=str(e))
    if answer.status_code == 404:
        return None
    if not answer:
        raise exception.UsbQuotaUnchecked(
            device_id=device_id, reason='placement answered HTTP %d' %
            answer.status_code)
    return next(iter(answer.json()['inventories']), None)


def check_attach(context, instance, device_id):
    """Refuse (403) an attach that would take the server's project over
    its limit for the device's resource class.
    """
    if not limit_utils.use_unified_limits():
        return
    resource_class = device_resource_class(context, device_id)
    if resource_class is None:
        return
    resource = 'class:%s' % resource_class
    enforcer = placement_limits._get_enforcer(context, instance.project_id)
    try:
        enforcer.enforce(instance.project_id, {resource: 1})
    except limit_exceptions.ProjectOverLimit as e:
        if not limit_utils.should_enforce(e):
            return
        info = next(i for i in e.over_limit_info_list
                    if i.resource_name == resource)
        raise exception.UsbQuotaExceeded(
            device_id=device_id, project_id=instance.project_id,
            resource=resource, limit=info.limit, used=info.current_usage)
