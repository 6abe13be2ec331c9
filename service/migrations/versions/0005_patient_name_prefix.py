"""patient_name_key compared byte by byte, and patient_name_plain: PatientName prefix
searches as an index range

Revision ID: 0005_patient_name_prefix
Revises: 0004_imports
Create Date: 2026-12-05 00:05:00

A QIDO search `PatientName=SMITH*` was a LIKE on patient_name_key that PostgreSQL
cannot seek in a non-C collation (a sequential scan), and only a pre-filter, so every
candidate was read and matched in Python. Now it is a range on the key, which needs
byte order on PostgreSQL (COLLATE "C"; SQLite's BINARY already is), and SQL decides the
match alone when every study in the range has a plain name (patient_name_plain, kept
in the key's index so that the check reads the index only). Studies stored before are
told from their stored level JSON, as ingest would tell them.
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic import op

revision = '0005_patient_name_prefix'
down_revision = '0004_imports'
branch_labels = None
depends_on = None

BATCH = 500


def _plain(level_json: bytes | None) -> bool:
    """records.plain_patient_name on a study's stored level JSON (copied: a migration
    must keep meaning what it meant when it was written)."""
    dataset = orjson.loads(level_json) if level_json else {}
    attribute = dataset.get("00100010")
    values = attribute.get("Value") if isinstance(attribute, dict) else None
    if not isinstance(values, list) or len(values) != 1 or not isinstance(values[0], dict):
        return False
    name = values[0].get("Alphabetic")
    return isinstance(name, str) and name.isascii() and "\x00" not in name


def upgrade() -> None:
    bind = op.get_bind()
    # A store made by create_all before migrations existed is stamped at the baseline and
    # may already be in this revision's shape: change only what is not.
    inspector = sa.inspect(bind)
    if 'patient_name_plain' not in {c['name'] for c in inspector.get_columns('studies')}:
        op.add_column('studies', sa.Column('patient_name_plain', sa.Boolean(), nullable=True))
    indexes = {i['name']: i['column_names'] for i in inspector.get_indexes('studies')}
    wanted = ['patient_name_key', 'patient_name_plain']
    if indexes.get('ix_studies_patient_name_key') != wanted:
        if 'ix_studies_patient_name_key' in indexes:
            op.drop_index('ix_studies_patient_name_key', table_name='studies')
        if bind.dialect.name == "postgresql":
            op.alter_column('studies', 'patient_name_key', type_=sa.Text(collation="C"),
                            existing_type=sa.Text())
        op.create_index('ix_studies_patient_name_key', 'studies', wanted)
    studies = sa.table('studies', sa.column('study_uid', sa.String),
                       sa.column('dicom_json', sa.LargeBinary),
                       sa.column('patient_name_key', sa.String),
                       sa.column('patient_name_plain', sa.Boolean))
    rows = bind.execute(sa.select(studies.c.study_uid, studies.c.dicom_json)
                        .where(studies.c.patient_name_key.is_not(None),
                               studies.c.patient_name_plain.is_(None))).all()
    update = (sa.update(studies).where(studies.c.study_uid == sa.bindparam('_uid'))
              .values(patient_name_plain=sa.bindparam('_plain')))
    for start in range(0, len(rows), BATCH):
        bind.execute(update, [{'_uid': uid, '_plain': _plain(level_json)}
                              for uid, level_json in rows[start:start + BATCH]])


def downgrade() -> None:
    op.drop_index('ix_studies_patient_name_key', table_name='studies')
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column('studies', 'patient_name_key', type_=sa.Text(),
                        existing_type=sa.Text(collation="C"))
    with op.batch_alter_table('studies') as batch:
        batch.drop_column('patient_name_plain')
    op.create_index('ix_studies_patient_name_key', 'studies', ['patient_name_key'])
