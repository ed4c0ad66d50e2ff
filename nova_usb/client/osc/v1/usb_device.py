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

"""``openstack usb device list|show``: the USB devices of compute hosts,
for operators (admin by default policy).
"""

from osc_lib.command import command

from nova_usb.client import columns
from nova_usb.client.osc.v1 import common


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
