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

"""The ``nova`` CLI extension: ``nova usb-*``, ``nova usb-controller-*`` and
``nova host-usb-list``.

python-novaclient loads it through the ``novaclient.extension`` entry point
and adds every ``do_*`` function below as a subcommand (``do_usb_list`` is
``nova usb-list``), with its docstring as help. Each command resolves the
server as the other ``nova`` commands do (name or id, via Nova's API), then
calls nova_usbclient.api over the session ``nova`` itself authenticated,
so the CLI's usual ``--os-*`` options and environment apply unchanged.
Refusals propagate: ``nova`` prints them as ``ERROR (Conflict): <the
server's message> (HTTP 409)`` and exits 1.
"""

from novaclient import exceptions
from novaclient import utils

from nova_usbclient import api
from nova_usbclient import columns


def _usb(cs):
    """A nova-usb client on the session and endpoint ``nova`` uses."""
    http = cs.client
    return api.Client(http.session, service_type=http.service_type,
                      service_name=http.service_name, auth=http.auth,
                      interface=http.interface,
                      region_name=http.region_name,
                      endpoint_override=http.endpoint_override)


def _server_id(cs, server):
    return utils.find_resource(cs.servers, server).id


def _text(value):
    if value is None:
        return '-'
    if isinstance(value, list):
        return ', '.join(str(v) for v in value)
    return str(value)


def _print_list(rows, shown):
    """A table with ``shown``'s (heading, field) columns."""
    utils.print_list(
        rows, [heading for heading, _ in shown],
        formatters={heading: (lambda row, field=field: _text(row.get(field)))
                    for heading, field in shown})


def _print_one(row):
    utils.print_dict({key: _text(value) for key, value in row.items()})


_SERVER = utils.arg('server', metavar='<server>',
                    help='Name or ID of the server.')
_DEVICE = utils.arg('device', metavar='<device>',
                    help='ID of the USB device (see "nova usb-available" or '
                         '"nova host-usb-list").')


@_SERVER
def do_usb_list(cs, args):
    """List the USB devices of a server: attached, or missing (wanted but
    absent from its host now).
    """
    _print_list(_usb(cs).list_server_devices(_server_id(cs, args.server)),
                columns.SERVER_DEVICE)


@_SERVER
def do_usb_available(cs, args):
    """List the USB devices the server may get: assignable devices of its
    host that no server holds.
    """
    _print_list(_usb(cs).list_available_devices(_server_id(cs, args.server)),
                columns.AVAILABLE_DEVICE)


@_SERVER
@_DEVICE
@utils.arg('--controller-model', metavar='<model>', default=None,
           help='Place the device on a USB controller of this model (for '
                'instance qemu-xhci), added if the server has none; by '
                'default any controller with a free port.')
def do_usb_attach(cs, args):
    """Attach a host USB device to a server: at once to a running or paused
    server, at its next start to a stopped one. The device stays across
    reboots until detached.
    """
    _print_one(_usb(cs).attach_device(_server_id(cs, args.server),
                                      args.device, args.controller_model))


@_SERVER
@_DEVICE
@utils.arg('--wait', action='store_true', default=False,
           help='Wait until the device is detached; fail with the compute '
                'host\'s reason when it stays.')
def do_usb_detach(cs, args):
    """Detach a USB device from a server (running, paused or stopped).
    The compute host detaches it in the background: the device is listed
    "detaching" until it is gone, and "nova instance-action-list" tells how
    the detach ended.
    """
    usb = _usb(cs)
    server_id = _server_id(cs, args.server)
    request_id = usb.detach_device(server_id, args.device)
    if args.wait:
        try:
            usb.wait_for_detach(server_id, args.device, request_id)
        except api.DetachFailed as e:
            raise exceptions.CommandError(str(e))


@_SERVER
def do_usb_controller_list(cs, args):
    """List the USB controllers of a server, with their used ports."""
    _print_list(_usb(cs).list_controllers(_server_id(cs, args.server)),
                columns.CONTROLLER)


@_SERVER
@utils.arg('model', metavar='<model>',
           help='Controller model, for instance qemu-xhci (USB 3) or ehci '
                '(USB 2); nova-api names the models it knows when given '
                'another.')
@utils.arg('--ports', metavar='<ports>', type=int, default=None,
           help='Number of ports (xHCI models only); the model\'s default '
                'otherwise.')
def do_usb_controller_add(cs, args):
    """Add a USB controller to a stopped server (libvirt cannot hot-plug
    USB controllers).
    """
    _print_one(_usb(cs).add_controller(_server_id(cs, args.server),
                                       args.model, args.ports))


@_SERVER
@utils.arg('index', metavar='<index>',
           help='Index of the controller (see "nova usb-controller-list").')
def do_usb_controller_remove(cs, args):
    """Remove a USB controller that nova-usb added from a stopped server;
    refused while a device sits on it.
    """
    _usb(cs).remove_controller(_server_id(cs, args.server), args.index)


@utils.arg('host', metavar='<host>', help='Name of the compute host.')
def do_host_usb_list(cs, args):
    """List the USB devices of a compute host (admin): whether each is
    assignable, why not, and which server holds it.
    """
    _print_list(_usb(cs).list_host_devices(args.host), columns.HOST_DEVICE)
