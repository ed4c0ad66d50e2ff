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

"""``openstack server usb controller list|add|remove``: the USB controllers
of a server. Adding and removing need the server stopped: libvirt cannot
hot-plug a USB controller.
"""

from osc_lib.command import command

from nova_usbclient import columns
from nova_usbclient.osc.v1 import common


class ListServerUsbController(command.Lister):
    """List the USB controllers of a server, with their used ports."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.server_argument(parser, 'list USB controllers of')
        return parser

    def take_action(self, parsed_args):
        return common.table(
            self.app.client_manager.usb.list_controllers(
                common.server_id(self.app, parsed_args.server)),
            columns.CONTROLLER)


class AddServerUsbController(command.ShowOne):
    """Add a USB controller to a stopped server."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.server_argument(parser, 'add the USB controller to')
        parser.add_argument(
            'model', metavar='<model>',
            help='Controller model, for instance qemu-xhci (USB 3) or ehci '
                 '(USB 2); nova-api names the models it knows when given '
                 'another.')
        parser.add_argument(
            '--ports', metavar='<ports>', type=int, default=None,
            help="Number of ports (xHCI models only); the model's default "
                 "otherwise.")
        return parser

    def take_action(self, parsed_args):
        return common.one(self.app.client_manager.usb.add_controller(
            common.server_id(self.app, parsed_args.server),
            parsed_args.model, parsed_args.ports))


class RemoveServerUsbController(command.Command):
    """Remove a USB controller that nova-usb added from a stopped server;
    refused while a device sits on it.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.server_argument(parser, 'remove the USB controller from')
        parser.add_argument(
            'index', metavar='<index>',
            help='Index of the controller (see "openstack server usb '
                 'controller list").')
        return parser

    def take_action(self, parsed_args):
        self.app.client_manager.usb.remove_controller(
            common.server_id(self.app, parsed_args.server),
            parsed_args.index)
