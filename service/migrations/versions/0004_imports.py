"""imports: job state of imports from a Google DICOM store, and Pub/Sub messages stored

Revision ID: 0004_imports
Revises: 0003
Create Date: 2026-12-04 21:30:00

New tables only: nothing existing changes, so no backfill.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_imports'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A store made by create_all before migrations existed is stamped at the baseline
    # and may already have these tables: create only what is missing.
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if 'imports' not in existing:
        _create_imports()
    if 'import_studies' not in existing:
        _create_import_studies()
    if 'pubsub_messages' not in existing:
        _create_pubsub_messages()


def _create_imports() -> None:
    op.create_table('imports',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('store', sa.String(length=512), nullable=False),
    sa.Column('selection', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('search_done', sa.Boolean(), nullable=False),
    sa.Column('search_offset', sa.Integer(), nullable=False),
    sa.Column('search_owner', sa.String(length=64), nullable=True),
    sa.Column('search_lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_imports_state'), 'imports', ['state'])


def _create_import_studies() -> None:
    op.create_table('import_studies',
    sa.Column('import_id', sa.String(length=32), nullable=False),
    sa.Column('study_uid', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('instances', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], ['imports.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('import_id', 'study_uid')
    )
    op.create_index('ix_import_studies_claim', 'import_studies',
                    ['state', 'import_id', 'position'])


def _create_pubsub_messages() -> None:
    op.create_table('pubsub_messages',
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('message_id')
    )
    op.create_index(op.f('ix_pubsub_messages_received_at'), 'pubsub_messages',
                    ['received_at'])


def downgrade() -> None:
    op.drop_table('pubsub_messages')
    op.drop_table('import_studies')
    op.drop_table('imports')
