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

"""``openstack server usb list|available|add|remove|show``: the USB devices
of a server.
"""

from osc_lib.command import command
from osc_lib import exceptions

from nova_usbclient import api
from nova_usbclient import columns
from nova_usbclient.osc.v1 import common


def _device_argument(parser, text):
    parser.add_argument('device', metavar='<device>', help=text)


class ListServerUsbDevice(common.DeviceLister):
    """List the USB devices of a server: attached, or missing (wanted but
    absent from its host now).
    """

    shown = columns.SERVER_DEVICE

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.server_argument(parser, 'list USB devices of')
        return parser

    def devices(self, parsed_args):
        return self.app.client_manager.usb.list_server_devices(
            common.server_id(self.app, parsed_args.server))


class ListAvailableUsbDevice(common.DeviceLister):
    """List the USB devices a server may get: the assignable devices of its
    host that no server holds.
    """

    shown = columns.AVAILABLE_DEVICE

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.server_argument(parser, 'list available USB devices for')
        return parser

    def devices(self, parsed_args):
        return self.app.client_manager.usb.list_available_devices(
            common.server_id(self.app, parsed_args.server))


class AddServerUsbDevice(command.ShowOne):
    """Attach a host USB device to a server: at once to a running or paused
    server, at its next start to a stopped one. The device stays across
    reboots until removed.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.server_argument(parser, 'attach the USB device to')
        _device_argument(parser, 'USB device to attach (ID, see "openstack '
                                 'server usb available")')
        parser.add_argument(
            '--controller-model', metavar='<model>', default=None,
            help='Place the device on a USB controller of this model (for '
                 'instance qemu-xhci), added if the server has none; by '
                 'default any controller with a free port.')
        return parser

    def take_action(self, parsed_args):
        return common.one(self.app.client_manager.usb.attach_device(
            common.server_id(self.app, parsed_args.server),
            parsed_args.device, parsed_args.controller_model))


class RemoveServerUsbDevice(command.Command):
    """Detach a USB device from a server (running, paused or stopped).

    The compute host detaches it in the background: the device is listed
    "detaching" until it is gone, and "openstack server event list" tells
    how the detach ended. With --wait, the command waits for that end.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.server_argument(parser, 'detach the USB device from')
        _device_argument(parser, 'USB device to detach (ID)')
        parser.add_argument(
            '--wait', action='store_true',
            help='Wait until the device is detached; fail with the '
                 'compute host\'s reason when it stays.')
        return parser

    def take_action(self, parsed_args):
        usb = self.app.client_manager.usb
        server_id = common.server_id(self.app, parsed_args.server)
        request_id = usb.detach_device(server_id, parsed_args.device)
        if parsed_args.wait:
            try:
                usb.wait_for_detach(server_id, parsed_args.device,
                                    request_id)
            except api.DetachFailed as e:
                raise exceptions.CommandError(str(e))


class ShowServerUsbDevice(command.ShowOne):
    """Show a USB device of a server."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.server_argument(parser, 'show the USB device of')
        _device_argument(parser, 'USB device to show (ID)')
        return parser

    def take_action(self, parsed_args):
        return common.one(self.app.client_manager.usb.get_server_device(
            common.server_id(self.app, parsed_args.server),
            parsed_args.device))
