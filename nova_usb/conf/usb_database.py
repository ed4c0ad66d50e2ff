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

"""[usb_database]: nova-usb's own database, oslo.db's standard options."""

import copy

from oslo_config import cfg
from oslo_db import options as oslo_db_options

usb_database_group = cfg.OptGroup(
    name='usb_database',
    title='nova-usb database options',
    help="""
nova-usb's own database, where nova-api keeps the per-device grants admins
make through the API (which projects may use a USB device). It is a database
of its own, not one of Nova's; it may live on the same server. Create or
upgrade its schema with "nova-usb-manage db sync".

Needed by nova-api only: do not configure it for nova-compute.
""")

# Copies, as Nova makes for [database] and [api_database]: oslo.config cannot
# tell which group a shared option object was deprecated or renamed in.
# use_db_reconnect goes, as in Nova's groups: enginefacade does not use it.
usb_database_opts = [opt for opt in copy.deepcopy(
    oslo_db_options.database_opts) if opt.name != 'use_db_reconnect']

for _opt in usb_database_opts:
    if _opt.name == 'connection':
        _opt.help = """
The SQLAlchemy URL of nova-usb's own database, for example::

    mysql+pymysql://nova_usb:PASS@controller/nova_usb?charset=utf8

Needed by nova-api only. When it is not set, nova-api keeps no per-device
grants: only [usb] device_spec grants devices to projects.
"""


def register_opts(conf):
    conf.register_opts(usb_database_opts, group=usb_database_group)


def list_opts():
    return {usb_database_group: usb_database_opts}
