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

"""The tables of nova-usb's own database ([usb_database]).

The migrations in nova_usb/db/migrations create exactly these; a change
here needs a new migration there (tests/unit/db/test_migrations.py compares
the two).
"""

from oslo_db.sqlalchemy import models
import sqlalchemy as sa
from sqlalchemy import orm


class _NovaUsbBase(models.ModelBase, models.TimestampMixin):
    pass


BASE = orm.declarative_base(cls=_NovaUsbBase)


class UsbDeviceGrant(BASE):
    """A project that may use a USB device through the API.

    Device ids are cloud-unique (they include the compute host's name), so
    a grant needs no host. It names no server either: any server of the
    project on the device's host may take the device.
    """
    __tablename__ = 'usb_device_grants'
    __table_args__ = (
        sa.UniqueConstraint(
            'device_id', 'project_id',
            name='uniq_usb_device_grants0device_id0project_id'),
        # "Which devices may this project use", for its listings; the
        # unique constraint's index answers the per-device questions.
        sa.Index('usb_device_grants_project_id_idx', 'project_id'),
        {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8'},
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    device_id = sa.Column(sa.String(36), nullable=False)
    # As long as Nova's own project_id columns.
    project_id = sa.Column(sa.String(255), nullable=False)
