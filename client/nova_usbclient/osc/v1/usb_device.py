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

"""``openstack usb device list|show`` and ``openstack usb device grant
list|add|remove``: the USB devices of compute hosts and the projects they
are granted to, for operators (admin by default policy).
"""

from osc_lib.command import command

from nova_usbclient import columns
from nova_usbclient.osc.v1 import common


class ListUsbDevice(common.DeviceLister):
    """List the USB devices of a compute host: whether each is assignable,
    why not, and which server holds it.
    """

    shown = columns.HOST_DEVICE

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--host', metavar='<host>', required=True,
                            help='Compute host to list the USB devices of')
        return parser

    def devices(self, parsed_args):
        return self.app.client_manager.usb.list_host_devices(
            parsed_args.host)


class ShowUsbDevice(command.ShowOne):
    """Show a USB device of a compute host."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('device', metavar='<device>',
                            help='USB device to show (ID)')
        parser.add_argument(
            '--host', metavar='<host>', default=None,
            help='Compute host of the device; by default every compute '
                 'host is asked.')
        return parser

    def take_action(self, parsed_args):
        return common.one(self.app.client_manager.usb.get_host_device(
            parsed_args.device, parsed_args.host))


class ListUsbDeviceGrant(command.Lister):
    """List the projects a USB device is granted to: by the [usb]
    device_spec rule of its host (source device_spec) and by grants
    (source grant).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('device', metavar='<device>',
                            help='USB device (ID)')
        return parser

    def take_action(self, parsed_args):
        return common.table(
            self.app.client_manager.usb.list_device_grants(
                parsed_args.device), columns.GRANT)


class AddUsbDeviceGrant(command.ShowOne):
    """Grant a USB device to a project: its members may then attach it to
    their servers on the device's host.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('device', metavar='<device>',
                            help='USB device to grant (ID)')
        parser.add_argument('project', metavar='<project>',
                            help='Project to grant it to (ID)')
        return parser

    def take_action(self, parsed_args):
        return common.one(self.app.client_manager.usb.grant_device(
            parsed_args.device, parsed_args.project))


class RemoveUsbDeviceGrant(command.Command):
    """Remove a project's grant of a USB device."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('device', metavar='<device>',
                            help='USB device (ID)')
        parser.add_argument('project', metavar='<project>',
                            help='Project whose grant to remove (ID)')
        return parser

    def take_action(self, parsed_args):
        self.app.client_manager.usb.revoke_device_grant(
            parsed_args.device, parsed_args.project)
