"""Read side of the store: searches and look-ups, answered as ready JSON bytes.

Stored normalized JSON is spliced into the answers as bytes, never re-parsed;
only the computed counts are added around it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    Integer,
    Row,
    Select,
    and_,
    bindparam,
    exists,
    func,
    select,
)

from service.dicom.index_values import index_text
from service.store.prepared import Prepared, reading
from service.store.schema import instances, series, studies


@dataclass(slots=True)
class StudyQuery:
    patient_id: str | None = None
    patient_name: str | None = None  # DICOM wildcard pattern (* and ?), case-insensitive
    study_date_from: str | None = None  # YYYYMMDD, inclusive
    study_date_to: str | None = None
    accession_number: str | None = None
    modalities: list[str] = field(default_factory=list)
    study_uids: list[str] = field(default_factory=list)
    limit: int = 100
    offset: int = 0


@dataclass(slots=True)
class Page:
    items: list[bytes]
    total: int
    limit: int
    offset: int

    def to_json(self) -> bytes:
        return (b'{"items":[' + b",".join(self.items) + b'],"limit":'
                + str(self.limit).encode() + b',"offset":' + str(self.offset).encode()
                + b',"total":' + str(self.total).encode() + b"}")


def wildcard_to_like(pattern: str) -> str:
    """DICOM wildcards (* any run, ? one character) → SQL LIKE with '\\' as escape."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def splice(attributes: bytes, extra: dict) -> bytes:
    """Add computed members to a stored JSON object without parsing it."""
    addition = orjson.dumps(extra)[1:-1]
    if attributes == b"{}":
        return b"{" + addition + b"}"
    return attributes[:-1] + b"," + addition + b"}"


def _study_json(row: Any) -> bytes:
    """A study's /v1 JSON from its search row (a prepared statement's named tuple)."""
    modalities = [m for m in (row.modalities or "").split("\\") if m]
    return splice(row.attributes, {
        "ModalitiesInStudy": modalities,
        "NumberOfStudyRelatedSeries": row.series_count,
        "NumberOfStudyRelatedInstances": row.instance_count,
    })


def _series_json(row: Row[*tuple[Any, ...]]) -> bytes:
    return splice(row.attributes, {
        "StudyInstanceUID": row.study_uid,
        "NumberOfSeriesRelatedInstances": row.instance_count,
    })


def _study_search(query: StudyQuery) -> tuple[tuple[str | None, tuple[str, ...]], dict]:
    """The shape of a study search (which conditions, the name compared how) and the
    values of its bound parameters."""
    values: dict = {}
    name_match = None
    # Index columns hold index_text of a value (see dicom/index_values.py).
    if query.patient_id is not None:
        values["q_patient_id"] = index_text(query.patient_id)
    if query.patient_name is not None:
        pattern = query.patient_name.upper()
        if "*" in pattern or "?" in pattern:
            name_match, values["q_patient_name"] = "like", wildcard_to_like(pattern)
        else:
            name_match, values["q_patient_name"] = "equal", index_text(pattern)
    if query.study_date_from:
        values["q_date_from"] = query.study_date_from
    if query.study_date_to:
        values["q_date_to"] = query.study_date_to
    if query.accession_number is not None:
        values["q_accession_number"] = index_text(query.accession_number)
    # One parameter per listed value (q_modalities_0, …): the list's length is part of the
    # shape, so that the statement can be prepared (store/prepared.py).
    values.update({f"q_modalities_{i}": m for i, m in enumerate(query.modalities or ())})
    values.update({f"q_study_uids_{i}": u for i, u in enumerate(query.study_uids or ())})
    return (name_match, tuple(values)), values


# A search's statements are built and compiled once per shape and dialect and reused with
# new values on the driver connection: each request skips building the expression tree,
# finding its compiled form and SQLAlchemy's execution machinery (a few shapes in practice:
# which keys, and how many listed modalities and study UIDs).
@functools.lru_cache(maxsize=256)
def _study_statements(shape: tuple[str | None, tuple[str, ...]], dialect: Dialect
                      ) -> tuple[Prepared, Prepared]:
    """(the page's rows, the count of matches) of a study search of this shape, compiled
    for `dialect` and run on the driver connection (store/prepared.py)."""
    rows, count = _study_selects(shape)
    return Prepared.of(rows, dialect), Prepared.of(count, dialect)


def _study_selects(shape: tuple[str | None, tuple[str, ...]]) -> tuple[Select, Select]:
    name_match, names = shape

    def listed(prefix: str) -> list:
        return [bindparam(name) for name in names if name.startswith(prefix)]
    conditions: list = []
    if "q_patient_id" in names:
        conditions.append(studies.c.patient_id == bindparam("q_patient_id"))
    if name_match == "like":
        conditions.append(studies.c.patient_name_key.like(bindparam("q_patient_name"),
                                                          escape="\\"))
    elif name_match == "equal":
        conditions.append(studies.c.patient_name_key == bindparam("q_patient_name"))
    if "q_date_from" in names:
        conditions.append(studies.c.study_date >= bindparam("q_date_from"))
    if "q_date_to" in names:
        conditions.append(studies.c.study_date <= bindparam("q_date_to"))
    if "q_accession_number" in names:
        conditions.append(studies.c.accession_number == bindparam("q_accession_number"))
    if modalities := listed("q_modalities_"):
        conditions.append(exists().where(and_(
            series.c.study_uid == studies.c.study_uid, series.c.modality.in_(modalities))))
    if study_uids := listed("q_study_uids_"):
        conditions.append(studies.c.study_uid.in_(study_uids))
    columns = (studies.c.attributes, studies.c.modalities, studies.c.series_count,
               studies.c.instance_count)
    rows = (select(*columns).where(*conditions)
            .order_by(studies.c.study_date.asc().nulls_last(),
                      studies.c.study_time.asc().nulls_last(), studies.c.study_uid)
            .limit(bindparam("q_limit", type_=Integer))
            .offset(bindparam("q_offset", type_=Integer)))
    return rows, select(func.count()).select_from(studies).where(*conditions)


def search_studies(engine: Engine, query: StudyQuery) -> Page:
    shape, values = _study_search(query)
    rows_statement, count_statement = _study_statements(shape, engine.dialect)
    with reading(engine) as read:
        rows = read(rows_statement, {**values, "q_limit": query.limit,
                                     "q_offset": query.offset})
        if query.offset == 0 and len(rows) < query.limit:
            total = len(rows)
        else:
            total = read(count_statement, values)[0][0]
    return Page([_study_json(row) for row in rows], total, query.limit, query.offset)


def get_study(engine: Engine, study_uid: str) -> bytes | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(studies.c.attributes, studies.c.modalities, studies.c.series_count,
                   studies.c.instance_count).where(studies.c.study_uid == study_uid)).first()
    return _study_json(row) if row else None


def study_exists(engine: Engine, study_uid: str) -> bool:
    with engine.connect() as connection:
        return connection.execute(select(studies.c.study_uid)
                                  .where(studies.c.study_uid == study_uid)).first() is not None


@functools.lru_cache(maxsize=1)
def _series_lookup() -> Select:
    return select(series.c.series_uid).where(series.c.series_uid == bindparam("q_series_uid"),
                                             series.c.study_uid == bindparam("q_study_uid"))


def _series_stored(connection: Connection, study_uid: str, series_uid: str) -> bool:
    return connection.execute(_series_lookup(), {"q_series_uid": series_uid,
                                                 "q_study_uid": study_uid}).first() is not None


def series_exists(engine: Engine, study_uid: str, series_uid: str) -> bool:
    with engine.connect() as connection:
        return _series_stored(connection, study_uid, series_uid)


def list_series(engine: Engine, study_uid: str, limit: int, offset: int) -> Page | None:
    with engine.connect() as connection:
        if connection.execute(select(studies.c.study_uid)
                              .where(studies.c.study_uid == study_uid)).first() is None:
            return None
        rows = connection.execute(
            select(series.c.attributes, series.c.study_uid, series.c.instance_count)
            .where(series.c.study_uid == study_uid)
            .order_by(series.c.series_number.asc().nulls_last(), series.c.series_uid)
            .limit(limit).offset(offset)).all()
        total = connection.execute(select(func.count()).select_from(series)
                                   .where(series.c.study_uid == study_uid)).scalar_one()
    return Page([_series_json(row) for row in rows], total, limit, offset)


def get_series(engine: Engine, study_uid: str, series_uid: str) -> bytes | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(series.c.attributes, series.c.study_uid, series.c.instance_count)
            .where(series.c.series_uid == series_uid, series.c.study_uid == study_uid)).first()
    return _series_json(row) if row else None


def list_instances(engine: Engine, study_uid: str, series_uid: str, limit: int,
                   offset: int) -> Page | None:
    """Instances of a series in InstanceNumber, then slice position, then UID order."""
    where = (instances.c.series_uid == series_uid, instances.c.study_uid == study_uid)
    with engine.connect() as connection:
        if not _series_stored(connection, study_uid, series_uid):
            return None
        rows = connection.execute(
            select(instances.c.summary).where(*where)
            .order_by(instances.c.instance_number.asc().nulls_last(),
                      instances.c.slice_position.asc().nulls_last(), instances.c.sop_uid)
            .limit(limit).offset(offset)).scalars().all()
        total = connection.execute(select(func.count()).select_from(instances)
                                   .where(*where)).scalar_one()
    return Page(list(rows), total, limit, offset)


@dataclass(slots=True)
class StoredInstance:
    sop_uid: str
    body: bytes  # the stored DICOM JSON or the normalized JSON, as asked
    has_pixel_data: bool
    pixel_module_missing: list[str]
    content_hash: bytes  # of the DICOM JSON as ingested: changes whenever the instance does


@functools.lru_cache(maxsize=2)
def _instance_statement(dicom_json: bool) -> Select:
    """get_instance's look-up, built once (see _study_statements)."""
    body = instances.c.dicom_json if dicom_json else instances.c.attributes
    return (select(body, instances.c.has_pixel_data, instances.c.pixel_module_missing,
                   instances.c.content_hash)
            .where(instances.c.sop_uid == bindparam("q_sop_uid"),
                   instances.c.series_uid == bindparam("q_series_uid"),
                   instances.c.study_uid == bindparam("q_study_uid")))


@functools.lru_cache(maxsize=1)
def _content_hash_statement() -> Select:
    # Columns stored before dicom_json only: SQLite does not walk that blob's overflow pages.
    return (select(instances.c.content_hash)
            .where(instances.c.sop_uid == bindparam("q_sop_uid"),
                   instances.c.series_uid == bindparam("q_series_uid"),
                   instances.c.study_uid == bindparam("q_study_uid")))


def instance_content_hash(engine: Engine, study_uid: str, series_uid: str,
                          sop_uid: str) -> bytes | None:
    """The content hash of a stored instance (None when it is not stored), without
    reading its JSON: what per-worker caches of its attributes are keyed by."""
    with engine.connect() as connection:
        found = connection.execute(_content_hash_statement(), {
            "q_sop_uid": sop_uid, "q_series_uid": series_uid,
            "q_study_uid": study_uid}).scalar()
    return None if found is None else bytes(found)


def get_instance(engine: Engine, study_uid: str, series_uid: str, sop_uid: str, *,
                 dicom_json: bool = False) -> StoredInstance | None:
    """One instance's normalized attributes (or, with `dicom_json`, its JSON as ingested).

    Only the asked blob is read: the pixel path calls this once per slice.
    """
    with engine.connect() as connection:
        row = connection.execute(_instance_statement(dicom_json), {
            "q_sop_uid": sop_uid, "q_series_uid": series_uid, "q_study_uid": study_uid}).first()
    if row is None:
        return None
    missing = row.pixel_module_missing.split(",") if row.pixel_module_missing else []
    return StoredInstance(sop_uid, bytes(row[0]), bool(row.has_pixel_data), missing,
                          bytes(row.content_hash))


def study_instances_json(engine: Engine, study_uid: str,
                         modality: str | None = None) -> list[bytes]:
    """Stored DICOM JSON of a study's instances (optionally of one modality only)."""
    statement = select(instances.c.dicom_json).where(instances.c.study_uid == study_uid)
    if modality:
        statement = statement.where(instances.c.modality == modality)
    with engine.connect() as connection:
        return [bytes(b) for b in connection.execute(
            statement.order_by(instances.c.sop_uid)).scalars()]


@dataclass(slots=True)
class SeriesInstance:
    sop_uid: str
    attributes: bytes  # normalized JSON
    has_pixel_data: bool
    pixel_module_missing: list[str]


def series_instances(engine: Engine, study_uid: str,
                     series_uid: str) -> list[SeriesInstance] | None:
    """Every instance of the series (in SOP Instance UID order), None when it is not stored,
    with everything volume geometry needs: the list views carry only a summary, while
    PixelSpacing, FrameOfReferenceUID and multi-frame functional groups are in the
    normalized attributes."""
    with engine.connect() as connection:
        if not _series_stored(connection, study_uid, series_uid):
            return None
        rows = connection.execute(
            select(instances.c.sop_uid, instances.c.attributes, instances.c.has_pixel_data,
                   instances.c.pixel_module_missing)
            .where(instances.c.series_uid == series_uid, instances.c.study_uid == study_uid)
            .order_by(instances.c.sop_uid)).all()
    return [SeriesInstance(row.sop_uid, bytes(row.attributes), bool(row.has_pixel_data),
                           row.pixel_module_missing.split(",") if row.pixel_module_missing
                           else []) for row in rows]
