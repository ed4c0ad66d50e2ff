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

"""What the ``openstack`` commands share: showing the API's answers.

Lists take their columns from nova_usbclient.columns (the same as the
``nova`` CLI's), ``show``-style commands every field under its API name,
as OpenStackClient does for Nova's own resources. Values stay typed (a
boolean is a boolean, a missing value null) so that ``-f json`` and ``-f
yaml`` keep them; lists are shown comma separated in tables.
"""

from osc_lib.cli import format_columns
from osc_lib.command import command

from nova_usbclient import columns


def _value(value):
    if isinstance(value, list):
        return format_columns.ListColumn(value)
    return value


def table(rows, shown):
    """Lister's (headings, rows) of ``shown``'s (heading, field) columns."""
    return (tuple(heading for heading, _ in shown),
            (tuple(_value(row.get(field)) for _, field in shown)
             for row in rows))


def one(item):
    """ShowOne's (fields, values), fields in alphabetical order."""
    fields = tuple(sorted(item))
    return fields, tuple(_value(item[field]) for field in fields)


class DeviceLister(command.Lister):
    """A list of devices, with ``--long`` for bus, device number, speed,
    class and host.
    """

    shown = ()

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--long', action='store_true', default=False,
            help='List additional fields in output (host, bus, device '
                 'number, speed, classes).')
        return parser

    def devices(self, parsed_args):
        raise NotImplementedError()

    def take_action(self, parsed_args):
        shown = self.shown
        if parsed_args.long:
            shown += columns.DEVICE_DETAILS
        return table(self.devices(parsed_args), shown)


def server_id(app, name_or_id):
    """The server's id, found by name or id as ``openstack server ...``
    commands do.
    """
    return app.client_manager.compute.find_server(
        name_or_id, ignore_missing=False).id


def server_argument(parser, action):
    parser.add_argument('server', metavar='<server>',
                        help='Server to %s (name or ID)' % action)
