"""Tables and indexes of the store (SQLAlchemy Core; SQLite and PostgreSQL alike).

The instance's DICOM JSON as received is the source of truth; every other
column is an index over it (or a precomputed rendering of it) and can be
rebuilt from it.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

UID = String(64)  # an instance's own UIDs: identifiers, at most 64 characters (uids.py)


def _index_text(declared: int) -> String:
    """A text index column (see dicom/index_values.py): unbounded on PostgreSQL, whose
    varchar(n) would refuse a longer value; SQLite never enforces a declared length, so
    its columns keep their first declaration (changing it would rebuild every table)."""
    return String(declared).with_variant(Text(), "postgresql")


dumps = Table(
    "dumps", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("body_bytes", Integer, nullable=False),
    Column("received", Integer, nullable=False),
    Column("created", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
)

studies = Table(
    "studies", metadata,
    Column("study_uid", UID, primary_key=True),
    Column("patient_id", _index_text(64), index=True),
    Column("patient_name", _index_text(324)),
    # Upper-cased person name, the key of case-insensitive wildcard matching. Compared
    # byte by byte on both databases (PostgreSQL: COLLATE "C"; SQLite's BINARY already
    # is), so that a prefix search is an index range (store/qido_search.py).
    Column("patient_name_key", String(324).with_variant(Text(collation="C"), "postgresql")),
    # True when a prefix search's range on patient_name_key decides the QIDO match alone
    # (records.InstanceRecord.patient_name_plain); NULL for studies not yet told.
    Column("patient_name_plain", Boolean),
    Column("study_date", _index_text(8), index=True),
    Column("study_time", _index_text(16)),
    Column("accession_number", _index_text(64), index=True),
    Column("modalities", _index_text(256)),  # "\CT\SR\": computed from the series
    Column("series_count", Integer, nullable=False, default=0),
    Column("instance_count", Integer, nullable=False, default=0),
    Column("attributes", LargeBinary, nullable=False),  # normalized JSON, without counts
    # Study- and patient-level attributes as DICOM JSON (QIDO-RS answers; store/qido_search.py).
    Column("dicom_json", LargeBinary),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_studies_order", "study_date", "study_time", "study_uid"),
    # With patient_name_plain: whether a range is all plain is read from the index alone;
    # with the order columns: so is the page of a prefix search (store/qido_search.py).
    Index("ix_studies_patient_name_key", "patient_name_key", "patient_name_plain",
          "study_date", "study_time", "study_uid"),
)

series = Table(
    "series", metadata,
    Column("series_uid", UID, primary_key=True),
    Column("study_uid", UID, ForeignKey("studies.study_uid", ondelete="CASCADE"),
           nullable=False),
    Column("modality", _index_text(16)),
    Column("series_number", Integer),
    Column("instance_count", Integer, nullable=False, default=0),
    Column("attributes", LargeBinary, nullable=False),  # normalized JSON, without counts
    # Series-level attributes as DICOM JSON (QIDO-RS answers; store/qido_search.py).
    Column("dicom_json", LargeBinary),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_series_study_modality", "study_uid", "modality"),
    Index("ix_series_study_number", "study_uid", "series_number"),
)

instances = Table(
    "instances", metadata,
    Column("sop_uid", UID, primary_key=True),
    Column("series_uid", UID, ForeignKey("series.series_uid", ondelete="CASCADE"),
           nullable=False),
    Column("study_uid", UID, ForeignKey("studies.study_uid", ondelete="CASCADE"),
           nullable=False),
    Column("sop_class_uid", _index_text(64)),  # not an identifier: kept as received
    Column("modality", _index_text(16)),
    Column("instance_number", Integer),
    Column("slice_position", Float),
    Column("has_pixel_data", Boolean, nullable=False),
    Column("pixel_module_missing", Text),  # comma list of missing pixel-module keywords
    Column("content_hash", LargeBinary(16), nullable=False),
    Column("dicom_json", LargeBinary, nullable=False),  # as received, compact
    Column("attributes", LargeBinary, nullable=False),  # normalized JSON
    Column("summary", LargeBinary, nullable=False),  # normalized JSON of list-view attributes
    Column("dump_id", Integer, ForeignKey("dumps.id", ondelete="SET NULL")),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_instances_series_order", "series_uid", "instance_number", "slice_position",
          "sop_uid"),
    Index("ix_instances_study", "study_uid", "sop_class_uid"),
)

# The QIDO-RS instance return attributes as DICOM JSON (records.QIDO_INSTANCE_KEYS), so
# that instance searches need not parse each instance's whole JSON. A table of its own:
# in SQLite a column added after instances.dicom_json would be read by walking that
# blob's overflow pages (an instance search of 300 rows: ~4 ms instead of ~0.5 ms).
# Instances stored before it existed have no row here (searches read their whole JSON).
instance_qido = Table(
    "instance_qido", metadata,
    Column("sop_uid", UID, ForeignKey("instances.sop_uid", ondelete="CASCADE"),
           primary_key=True),
    Column("dicom_json", LargeBinary, nullable=False),
)

# Imports from a Google DICOM store (usecases/imports.py): one row per import, one per
# study of it. The rows are the job state: any replica claims queued studies (leases
# let another take over the claims of one that died), so an import survives restarts.
imports = Table(
    "imports", metadata,
    Column("id", String(32), primary_key=True),
    Column("store", String(512), nullable=False),
    Column("selection", LargeBinary, nullable=False),  # JSON: study UIDs or QIDO filters
    Column("state", String(16), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("error", Text),
    # The QIDO-RS search, page by page: where it stands, and who runs it until when.
    Column("search_done", Boolean, nullable=False),
    Column("search_offset", Integer, nullable=False, default=0),
    Column("search_owner", String(64)),
    Column("search_lease_until", DateTime(timezone=True)),
)

import_studies = Table(
    "import_studies", metadata,
    Column("import_id", String(32), ForeignKey("imports.id", ondelete="CASCADE"),
           primary_key=True),
    Column("study_uid", UID, primary_key=True),
    Column("position", Integer, nullable=False),  # order found, the order worked
    # queued, running, done, unchanged, failed or cancelled
    Column("state", String(16), nullable=False),
    Column("owner", String(64)),
    Column("lease_until", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("instances", Integer, nullable=False, default=0),
    Column("reason", Text),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_import_studies_claim", "state", "import_id", "position"),
)

# Pub/Sub messages already stored (Pub/Sub delivers at least once): a replay is
# answered without fetching the instance again. Rows older than Pub/Sub's retention
# are pruned.
pubsub_messages = Table(
    "pubsub_messages", metadata,
    Column("message_id", String(128), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
)
