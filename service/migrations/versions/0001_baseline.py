"""baseline: the schema as create_all made it before migrations existed

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 22:29:54.005217
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dumps',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('body_bytes', sa.Integer(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('studies',
    sa.Column('study_uid', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=True),
    sa.Column('patient_name', sa.String(length=324), nullable=True),
    sa.Column('patient_name_key', sa.String(length=324), nullable=True),
    sa.Column('study_date', sa.String(length=8), nullable=True),
    sa.Column('study_time', sa.String(length=16), nullable=True),
    sa.Column('accession_number', sa.String(length=64), nullable=True),
    sa.Column('modalities', sa.String(length=256), nullable=True),
    sa.Column('series_count', sa.Integer(), nullable=False),
    sa.Column('instance_count', sa.Integer(), nullable=False),
    sa.Column('attributes', sa.LargeBinary(), nullable=False),
    sa.Column('dicom_json', sa.LargeBinary(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('study_uid')
    )
    op.create_index(op.f('ix_studies_accession_number'), 'studies', ['accession_number'])
    op.create_index('ix_studies_order', 'studies', ['study_date', 'study_time', 'study_uid'])
    op.create_index(op.f('ix_studies_patient_id'), 'studies', ['patient_id'])
    op.create_index(op.f('ix_studies_patient_name_key'), 'studies', ['patient_name_key'])
    op.create_index(op.f('ix_studies_study_date'), 'studies', ['study_date'])
    op.create_table('series',
    sa.Column('series_uid', sa.String(length=64), nullable=False),
    sa.Column('study_uid', sa.String(length=64), nullable=False),
    sa.Column('modality', sa.String(length=16), nullable=True),
    sa.Column('series_number', sa.Integer(), nullable=True),
    sa.Column('instance_count', sa.Integer(), nullable=False),
    sa.Column('attributes', sa.LargeBinary(), nullable=False),
    sa.Column('dicom_json', sa.LargeBinary(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['study_uid'], ['studies.study_uid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('series_uid')
    )
    op.create_index('ix_series_study_modality', 'series', ['study_uid', 'modality'])
    op.create_index('ix_series_study_number', 'series', ['study_uid', 'series_number'])
    op.create_table('instances',
    sa.Column('sop_uid', sa.String(length=64), nullable=False),
    sa.Column('series_uid', sa.String(length=64), nullable=False),
    sa.Column('study_uid', sa.String(length=64), nullable=False),
    sa.Column('sop_class_uid', sa.String(length=64), nullable=True),
    sa.Column('modality', sa.String(length=16), nullable=True),
    sa.Column('instance_number', sa.Integer(), nullable=True),
    sa.Column('slice_position', sa.Float(), nullable=True),
    sa.Column('has_pixel_data', sa.Boolean(), nullable=False),
    sa.Column('pixel_module_missing', sa.Text(), nullable=True),
    sa.Column('content_hash', sa.LargeBinary(length=16), nullable=False),
    sa.Column('dicom_json', sa.LargeBinary(), nullable=False),
    sa.Column('attributes', sa.LargeBinary(), nullable=False),
    sa.Column('summary', sa.LargeBinary(), nullable=False),
    sa.Column('dump_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dump_id'], ['dumps.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['series_uid'], ['series.series_uid'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['study_uid'], ['studies.study_uid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sop_uid')
    )
    op.create_index('ix_instances_series_order', 'instances',
                    ['series_uid', 'instance_number', 'slice_position', 'sop_uid'])
    op.create_index('ix_instances_study', 'instances', ['study_uid', 'sop_class_uid'])


def downgrade() -> None:
    op.drop_index('ix_instances_study', table_name='instances')
    op.drop_index('ix_instances_series_order', table_name='instances')
    op.drop_table('instances')
    op.drop_index('ix_series_study_number', table_name='series')
    op.drop_index('ix_series_study_modality', table_name='series')
    op.drop_table('series')
    op.drop_index(op.f('ix_studies_study_date'), table_name='studies')
    op.drop_index(op.f('ix_studies_patient_name_key'), table_name='studies')
    op.drop_index(op.f('ix_studies_patient_id'), table_name='studies')
    op.drop_index('ix_studies_order', table_name='studies')
    op.drop_index(op.f('ix_studies_accession_number'), table_name='studies')
    op.drop_table('studies')
    op.drop_table('dumps')
