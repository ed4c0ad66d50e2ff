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

"""Which compute host nova-api asks, and whether it can answer.

A request for a host goes to that host's cell (its message queue), and only
once Nova's service group says its nova-compute is up: a host that is down
is refused at once (409, nothing changed) instead of waiting for an RPC
timeout.

A device id names its host only through a one-way hash, so finding the
host of a device means asking the hosts. Every compute host whose service
is up is asked at once, each call bounded by [usb] host_lookup_timeout; a
host that does not answer in time is skipped.
"""

import copy

import futurist
from nova import context as nova_context
from nova import exception as nova_exception
from nova import objects
from nova import servicegroup
from nova import thread_pool_factory
from oslo_log import log as logging

from nova_usb import conf as nova_usb_conf
from nova_usb import exception

CONF = nova_usb_conf.CONF
LOG = logging.getLogger(__name__)

COMPUTE_BINARY = 'nova-compute'


class ComputeHosts(object):

    def __init__(self, usb_rpc):
        self.usb_rpc = usb_rpc
        self.servicegroup = servicegroup.API()

    def target(self, context, host):
        """A copy of ``context`` aimed at ``host``'s cell.

        Raises ComputeHostNotFound (404) for a host Nova does not know and
        UsbComputeHostDown (409) when its nova-compute is down.
        """
        try:
            mapping = objects.HostMapping.get_by_host(context, host)
        except nova_exception.HostMappingNotFound:
            raise nova_exception.ComputeHostNotFound(host=host)
        host_context = copy.copy(context)
        nova_context.set_target_cell(host_context, mapping.cell_mapping)
        self.check_up(host_context, host, 'host %s' % host)
        return host_context

    def check_up(self, context, host, name):
        """Refuse at once when the nova-compute of ``host`` is down.

        ``context`` must already aim at the host's cell (as it does after
        nova.api.openstack.common.get_instance for the server's host).
        ``name`` says the host in the message: non-admins get "the server's
        host", never its name.
        """
        service = objects.Service.get_by_compute_host(context, host)
        if not self.servicegroup.service_is_up(service):
            raise exception.UsbComputeHostDown(host=name)

    def find_device(self, context, device_id, skip=()):
        """``(host, device)`` of the device (a records.HostDevice), or None
        when no compute host that answered in time has it. Hosts in
        ``skip`` are not asked.
        """
        timeout = CONF.usb.host_lookup_timeout
        admin_context = context.elevated()
        calls = {}
        for cell in objects.CellMappingList.get_all(admin_context):
            if cell.is_cell0():
                continue
            with nova_context.target_cell(admin_context, cell) as cctxt:
                services = objects.ServiceList.get_by_binary(
                    cctxt, COMPUTE_BINARY, include_disabled=True)
                for service in services:
                    if (service.host in skip or
                            not self.servicegroup.service_is_up(service)):
                        continue
                    calls[service.host] = thread_pool_factory.spawn_on(
                        thread_pool_factory.ExecutorType.SCATTER_GATHER,
                        self.usb_rpc.list_host_devices, cctxt, service.host,
                        timeout=timeout)
        # Each call ends by itself after ``timeout``; the margin covers a
        # busy pool.
        futurist.waiters.wait_for_all(calls.values(), timeout + 5)
        for host, call in sorted(calls.items()):
            if not call.done():
                LOG.warning('Compute host %s did not answer in time while '
                            'looking for USB device %s', host, device_id)
                continue
            error = call.exception()
            if error is not None:
                LOG.warning('Compute host %s could not list its USB '
                            'devices while looking for USB device %s: %s',
                            host, device_id, error)
                continue
            for device in call.result():
                if device.id == device_id:
                    return host, device
        return None
