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

"""USB device grants

Revision ID: 90cb13549fa9
Revises:
Create Date: 2026-12-07 15:01:36
"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '90cb13549fa9'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'usb_device_grants',
        sa.Column('created_at', sa.DateTime),
        sa.Column('updated_at', sa.DateTime),
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True,
                  nullable=False),
        sa.Column('device_id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.UniqueConstraint(
            'device_id', 'project_id',
            name='uniq_usb_device_grants0device_id0project_id'),
        sa.Index('usb_device_grants_project_id_idx', 'project_id'),
        mysql_engine='InnoDB',
        mysql_charset='utf8',
    )
