"""instance_qido: the QIDO-RS instance return attributes as DICOM JSON

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 23:10:00

Instances stored before this revision have no row: instance searches then read
their whole stored DICOM JSON (service/store/qido_search.py), so answers stay correct
without a backfill; ingesting a changed instance again writes its row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A store made by create_all before migrations existed is stamped at the baseline
    # and may already have the table: create it only when missing.
    if sa.inspect(op.get_bind()).has_table("instance_qido"):
        return
    op.create_table('instance_qido',
    sa.Column('sop_uid', sa.String(length=64), nullable=False),
    sa.Column('dicom_json', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['sop_uid'], ['instances.sop_uid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sop_uid')
    )


def downgrade() -> None:
    op.drop_table('instance_qido')
