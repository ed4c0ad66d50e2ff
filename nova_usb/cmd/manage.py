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

"""nova-usb-manage: operator commands for compute and nova-api hosts.

``nova-usb-manage host-devices`` shows the USB devices of this host exactly
as the nova-usb compute driver sees them, with whether each may be handed
out under the configured [usb] device_spec, and why not. Operators use it
to write and debug their device_spec.

``nova-usb-manage db sync`` creates or upgrades the schema of nova-usb's
own database ([usb_database], on nova-api hosts), ``db version`` shows its
revision.
"""

import argparse
import sys

from alembic.util import exc as alembic_exception
from oslo_db import exception as db_exception
from oslo_serialization import jsonutils
import prettytable
import sqlalchemy.exc

from nova_usb.api import views
from nova_usb import conf as nova_usb_conf
from nova_usb.db import migration
from nova_usb import exception
from nova_usb.virt import devspec
from nova_usb.virt import inventory

CONF = nova_usb_conf.CONF

TABLE_COLUMNS = ('id', 'bus', 'devnum', 'port_path', 'vendor_id',
                 'product_id', 'product_name', 'serial', 'assignable',
                 'reason')


def describe(device, specs):
    """The public description of a device plus its assignability."""
    reason = devspec.unassignable_reason(specs, device)
    description = device.to_dict()
    description['assignable'] = reason is None
    description['reason'] = reason
    return description


def host_devices(specs, host):
    devices = inventory.HostUsbInventory(host).scan()
    return [describe(device, specs) for device in devices]


def _format_table(rows):
    """The rows as a table for a terminal.

    Product names and serials are whatever a device's firmware says: their
    control characters are shown escaped, as the API shows them, so that
    no device can drive the operator's terminal.
    """
    table = prettytable.PrettyTable(TABLE_COLUMNS)
    table.align = 'l'
    for row in rows:
        table.add_row(['' if row[c] is None else views.escape(row[c])
                       for c in TABLE_COLUMNS])
    return table.get_string()


def _add_config_options(parser, default):
    parser.add_argument(
        '--config-file', action='append', default=default, metavar='PATH',
        help='Nova configuration file to read nova-usb\'s options and '
             '[DEFAULT] host from; may be repeated. Default: the files Nova '
             'itself reads (/etc/nova/nova.conf, ...).')
    parser.add_argument(
        '--config-dir', action='append', default=default, metavar='DIR',
        help='Directory of *.conf files to read, after --config-file.')


def _parser():
    parser = argparse.ArgumentParser(
        prog='nova-usb-manage',
        description='nova-usb operator commands for compute and nova-api '
                    'hosts.')
    _add_config_options(parser, default=[])
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True
    devices = commands.add_parser(
        'host-devices',
        help='List the USB devices of this host and whether each is '
             'assignable under [usb] device_spec.')
    # Also accepted after the command; SUPPRESS keeps those given before.
    _add_config_options(devices, default=argparse.SUPPRESS)
    devices.add_argument('--format', choices=('table', 'json'),
                         default='table', help='Output format.')
    db = commands.add_parser(
        'db', help="nova-usb's own database ([usb_database], on nova-api "
                   "hosts).")
    db_actions = db.add_subparsers(dest='action', metavar='ACTION')
    db_actions.required = True
    sync = db_actions.add_parser(
        'sync', help='Create or upgrade the schema of the database.')
    sync.add_argument('--version', metavar='REV', default=None,
                      help='Upgrade to this revision; default: the newest.')
    version = db_actions.add_parser(
        'version', help='Show the revision of the database\'s schema.')
    for db_parser in (db, sync, version):
        _add_config_options(db_parser, default=argparse.SUPPRESS)
    return parser


# What a database that is unreachable, refuses the connection or is given
# a malformed URL or revision raises.
DB_ERRORS = (db_exception.DBError, db_exception.CantStartEngineError,
             sqlalchemy.exc.SQLAlchemyError, alembic_exception.CommandError,
             ImportError)


def db(args):
    """``db sync`` and ``db version``: 0, or 1 with one ERROR line."""
    if not CONF.usb_database.connection:
        print('ERROR: [usb_database] connection is not set: nova-usb-manage '
              'db needs the URL of nova-usb\'s database, as nova-api has it.',
              file=sys.stderr)
        return 1
    try:
        if args.action == 'sync':
            migration.db_sync(args.version)
        else:
            print(migration.db_version())
    except DB_ERRORS as e:
        print('ERROR: nova-usb database: %s' % _first_line(e),
              file=sys.stderr)
        return 1
    return 0


def _first_line(error):
    """An error's message without what SQLAlchemy adds on further lines
    (the SQL, a link to its documentation).
    """
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def main(argv=None):
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    conf_args = []
    for path in args.config_file:
        conf_args += ['--config-file', path]
    for path in args.config_dir:
        conf_args += ['--config-dir', path]
    CONF(conf_args, project='nova', prog='nova-usb-manage')
    if args.command == 'db':
        return db(args)
    try:
        specs = devspec.parse_device_specs(CONF.usb.device_spec)
    except exception.InvalidDeviceSpec as e:
        print('ERROR: %s' % e, file=sys.stderr)
        return 2
    rows = host_devices(specs, CONF.host)
    if args.format == 'json':
        print(jsonutils.dumps(rows, indent=2, sort_keys=True))
    else:
        print(_format_table(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
