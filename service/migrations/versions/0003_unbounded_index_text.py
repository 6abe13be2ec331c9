"""index text columns unbounded on PostgreSQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 22:00:00

Ingest accepts values over their VR's length (with a warning; docs/ingest-policy.md).
PostgreSQL's varchar(n) refused them with an error; text holds them. varchar → text
is binary compatible: PostgreSQL rewrites neither the tables nor the indexes. SQLite
never enforced the declared lengths: nothing to do there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# (table, column, length declared before this revision)
COLUMNS = (
    ("studies", "patient_id", 64), ("studies", "patient_name", 324),
    ("studies", "patient_name_key", 324), ("studies", "study_date", 8),
    ("studies", "study_time", 16), ("studies", "accession_number", 64),
    ("studies", "modalities", 256), ("series", "modality", 16),
    ("instances", "sop_class_uid", 64), ("instances", "modality", 16),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in COLUMNS:
        op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String(length))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in COLUMNS:
        op.alter_column(table, column, type_=sa.String(length), existing_type=sa.Text(),
                        postgresql_using=f"left({column}, {length})")
