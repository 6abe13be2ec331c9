"""WADO-RS reads of stored instances: metadata (the DICOM JSON as ingested, its index of
content hashes), one instance's JSON, and the keys a retrieve walks (SQLAlchemy Core)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.sql import ColumnElement

from service.store.schema import instances, series, studies


@dataclass(slots=True)
class Metadata:
    instances: list[bytes]  # stored DICOM JSON, in the stable order
    content_hashes: list[bytes]
    last_modified: dt.datetime | None


def _metadata_where(study_uid: str, series_uid: str | None,
                    sop_uid: str | None) -> list[ColumnElement]:
    where = [instances.c.study_uid == study_uid]
    if series_uid is not None:
        where.append(instances.c.series_uid == series_uid)
    if sop_uid is not None:
        where.append(instances.c.sop_uid == sop_uid)
    return where


def _metadata_order(row: Any) -> tuple:
    return (row.series_uid, row.instance_number is None, row.instance_number or 0, row.sop_uid)


def read_metadata(engine: Engine, study_uid: str, series_uid: str | None = None,
                  sop_uid: str | None = None) -> Metadata:
    """The stored DICOM JSON of a study, series or instance ([] when not stored)."""
    where = _metadata_where(study_uid, series_uid, sop_uid)
    statement = select(instances.c.series_uid, instances.c.instance_number, instances.c.sop_uid,
                       instances.c.dicom_json, instances.c.content_hash,
                       instances.c.updated_at).where(*where)
    with engine.connect() as connection:
        rows = list(connection.execute(statement).all())
    # Sorted here: SQLite would sort megabytes of JSON in a temporary b-tree.
    rows.sort(key=_metadata_order)
    latest = max((row.updated_at for row in rows), default=None)
    return Metadata([bytes(row.dicom_json) for row in rows],
                    [bytes(row.content_hash) for row in rows], latest)


@dataclass(slots=True)
class MetadataIndex:
    sop_uids: list[str]  # in the stable order of read_metadata
    content_hashes: list[bytes]
    last_modified: dt.datetime | None


def metadata_index(engine: Engine, study_uid: str, series_uid: str | None = None,
                   sop_uid: str | None = None) -> MetadataIndex:
    """What a metadata answer stands for, without its JSON: the instances' content hashes
    and the level's last change. Cheap: in SQLite, instances' columns after dicom_json
    (updated_at) would be read by walking the blob's overflow pages, so the time of the
    last change comes from the level's own row (written with every change below it)."""
    where = _metadata_where(study_uid, series_uid, sop_uid)
    if sop_uid is not None:
        changed = select(instances.c.updated_at).where(*where)
    elif series_uid is not None:
        changed = select(series.c.updated_at).where(series.c.series_uid == series_uid,
                                                    series.c.study_uid == study_uid)
    else:
        changed = select(studies.c.updated_at).where(studies.c.study_uid == study_uid)
    with engine.connect() as connection:
        rows = list(connection.execute(select(
            instances.c.series_uid, instances.c.instance_number, instances.c.sop_uid,
            instances.c.content_hash).where(*where)).all())
        last_modified = connection.execute(changed).scalar() if rows else None
    rows.sort(key=_metadata_order)
    return MetadataIndex([row.sop_uid for row in rows],
                         [bytes(row.content_hash) for row in rows], last_modified)


def instance_json(engine: Engine, study_uid: str, series_uid: str, sop_uid: str) -> bytes | None:
    with engine.connect() as connection:
        found = connection.execute(
            select(instances.c.dicom_json).where(
                instances.c.sop_uid == sop_uid, instances.c.series_uid == series_uid,
                instances.c.study_uid == study_uid)).scalar()
    return bytes(found) if found is not None else None


# -- WADO-RS retrieve ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class InstanceKey:
    series_uid: str
    sop_uid: str


def instance_keys(engine: Engine, study_uid: str, series_uid: str | None = None,
                  sop_uid: str | None = None, *, images_only: bool = False) -> list[InstanceKey]:
    """The instances of a study, series or instance, in the stable order of read_metadata,
    without their JSON (a retrieve reads each instance's JSON when it fetches it);
    `images_only`: those with Pixel Data."""
    where = _metadata_where(study_uid, series_uid, sop_uid)
    if images_only:
        where.append(instances.c.has_pixel_data.is_(True))
    with engine.connect() as connection:
        rows = list(connection.execute(select(
            instances.c.series_uid, instances.c.instance_number, instances.c.sop_uid)
            .where(*where)).all())
    rows.sort(key=_metadata_order)
    return [InstanceKey(row.series_uid, row.sop_uid) for row in rows]
