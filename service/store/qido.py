"""The SQL side of DICOMweb: QIDO-RS candidates and WADO-RS metadata reads (SQLAlchemy Core).

Matching keys that map onto an indexed column become SQL conditions. A condition
is *exact* when SQL alone decides the match (UIDs, PatientID, StudyDate ranges,
Modality, numbers); when every condition is exact, SQL pages and counts. Other
keys (wildcards on case-sensitive values — SQLite's LIKE ignores ASCII case —,
person names, sequences, attributes without a column, emptyvaluematching) are
matched in Python over the level's stored DICOM JSON of the rows SQL narrowed
down: the candidates are then read whole, in the stable order, and paged after
matching (see service/api/dicomweb/search.py). That scan is bounded by the SQL
narrowing and by the scope of the path (a study, a series).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, FromClause, Select, and_, exists, func, or_, select
from sqlalchemy.sql import ColumnElement

from service.dicom.index_values import INT32, index_text, is_indexed_text
from service.dicomweb import levels
from service.dicomweb.query import Filter, QidoQuery
from service.store.queries import wildcard_to_like
from service.store.schema import instance_qido, instances, series, studies

# -- ingest hook: the level columns of a stored instance -------------------------------------

def study_columns(dicom_json: bytes | memoryview) -> dict[str, Any]:
    """Columns of the studies row derived from one instance's stored DICOM JSON."""
    return {"dicom_json": orjson.dumps(levels.level_dataset(orjson.loads(dicom_json),
                                                            levels.STUDY))}


def merge_study_columns(row: dict[str, Any], dicom_json: bytes | memoryview) -> None:
    """Add to a studies row the study-level attributes another series of the dump carries
    and the row lacks (a report's instance may lack what the images have)."""
    merged = orjson.loads(row["dicom_json"])
    extra = levels.level_dataset(orjson.loads(dicom_json), levels.STUDY)
    missing = {key: value for key, value in extra.items() if key not in merged}
    if missing:
        row["dicom_json"] = orjson.dumps(dict(sorted({**merged, **missing}.items())))


def series_columns(dicom_json: bytes | memoryview) -> dict[str, Any]:
    """Columns of the series row derived from one instance's stored DICOM JSON."""
    return {"dicom_json": orjson.dumps(levels.level_dataset(orjson.loads(dicom_json),
                                                            levels.SERIES))}


# -- QIDO-RS ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Scope:
    study_uid: str | None = None
    series_uid: str | None = None


@dataclass(slots=True)
class Candidates:
    rows: Sequence[Any]
    residual: list[Filter]  # still to match in Python; [] → rows are the page
    total: int  # matches (exact), or candidates (residual)


def _text_condition(column: Any, flt: Filter, upper: bool = False) -> tuple[Any, bool]:
    """Exact values → IN (exact); wildcards → LIKE (a superset: SQLite ignores ASCII case).

    The column holds index_text of the value: a value that is not its own index form
    (NUL, longer than the index prefix) is compared by that form, and Python decides.
    """
    exact = [t.text for t in flt.terms if t.kind == "exact"]
    likes = [t.text for t in flt.terms if t.kind == "wildcard"]
    if upper:
        exact, likes = [v.upper() for v in exact], [v.upper() for v in likes]
    if not all(is_indexed_text(v) for v in exact + likes):
        if likes:
            return None, False  # a prefix of a pattern is no pattern: Python matches
        return column.in_([index_text(v) for v in exact]), False
    conditions = []
    if exact:
        conditions.append(column.in_(exact))
    conditions.extend(column.like(wildcard_to_like(p), escape="\\") for p in likes)
    return or_(*conditions), not likes


def _condition(flt: Filter, fuzzy: bool) -> tuple[ColumnElement | None, bool]:
    """(SQL condition or None, whether it decides the match alone)."""
    if len(flt.path) > 1 or (fuzzy and flt.vr == "PN"):
        return None, False
    key, kinds = flt.key, {t.kind for t in flt.terms}
    uid_columns = {levels.STUDY_UID: studies.c.study_uid, levels.SERIES_UID: series.c.series_uid,
                   levels.SOP_UID: instances.c.sop_uid, "00080016": instances.c.sop_class_uid}
    if key in uid_columns:
        return uid_columns[key].in_([t.text for t in flt.terms]), True
    if key in ("00100020", "00080050", "00080060") and kinds <= {"exact", "wildcard"}:
        column = {"00100020": studies.c.patient_id, "00080050": studies.c.accession_number,
                  "00080060": series.c.modality}[key]
        return _text_condition(column, flt)
    if key == "00100010" and kinds <= {"exact", "wildcard"}:
        # PN: the upper-cased Alphabetic group; trailing empty components and the other
        # groups are left to Python, so the prefix pattern is only a pre-filter.
        patterns = [wildcard_to_like(t.text.upper().rstrip("^")) + "%" for t in flt.terms]
        return or_(*(studies.c.patient_name_key.like(p, escape="\\") for p in patterns)), False
    if key == "00080020" and kinds == {"range"}:
        term = flt.terms[0]
        parts = []
        if term.low:
            parts.append(studies.c.study_date >= term.low[:8])
        if term.high:
            parts.append(studies.c.study_date <= term.high[:8])
        return and_(*parts), flt.time_key is None and len(flt.terms) == 1
    if key == levels.MODALITIES_IN_STUDY and kinds == {"exact"}:
        # An alias: in a series or instance search `series` is already in the outer query,
        # and the subquery would correlate it away (no FROM left: a 500).
        any_series = series.alias("any_series_of_study")
        return exists().where(and_(any_series.c.study_uid == studies.c.study_uid,
                                   any_series.c.modality.in_([t.text for t in flt.terms]))), True
    numbers = {"00200011": series.c.series_number, "00200013": instances.c.instance_number}
    # The columns index IS's 32-bit range only (index_values): Python matches the rest.
    if key in numbers and kinds == {"number"} and all(
            t.number.is_integer() and INT32[0] <= t.number <= INT32[1] for t in flt.terms):
        return numbers[key].in_([int(t.number) for t in flt.terms]), True
    return None, False


def _order(level: str, scope: Scope) -> list:
    order: list = []
    if scope.study_uid is None:
        order += [studies.c.study_date.asc().nulls_last(), studies.c.study_time.asc().nulls_last(),
                  studies.c.study_uid]
    if level in (levels.SERIES, levels.INSTANCE) and scope.series_uid is None:
        order += [series.c.series_number.asc().nulls_last(), series.c.series_uid]
    if level == levels.INSTANCE:
        order += [instances.c.instance_number.asc().nulls_last(), instances.c.sop_uid]
    return order


def _statement(level: str, scope: Scope, conditions: list[ColumnElement[bool]],
               whole_instance: bool = True,
               ) -> tuple[Select[Any], list[ColumnElement[bool]], FromClause]:
    columns = [studies.c.study_uid, studies.c.dicom_json.label("study_json"),
               studies.c.modalities, studies.c.series_count,
               studies.c.instance_count.label("study_instances")]
    source: Any = studies
    if level in (levels.SERIES, levels.INSTANCE):
        columns += [series.c.series_uid, series.c.dicom_json.label("series_json"),
                    series.c.instance_count.label("series_instances")]
        source = series.join(studies, series.c.study_uid == studies.c.study_uid)
    if level == levels.INSTANCE:
        # The small QIDO JSON (instance_qido) when it holds all the search needs; the
        # whole JSON for instances stored before that table existed.
        instance_json = instances.c.dicom_json if whole_instance else func.coalesce(
            instance_qido.c.dicom_json, instances.c.dicom_json)
        columns += [instances.c.sop_uid, instance_json.label("instance_json")]
        source = instances.join(series, instances.c.series_uid == series.c.series_uid) \
            .join(studies, instances.c.study_uid == studies.c.study_uid)
    where = list(conditions)
    if scope.study_uid is not None:
        where.append(studies.c.study_uid == scope.study_uid)
    if scope.series_uid is not None:
        where.append(series.c.series_uid == scope.series_uid)
    rows_source = source  # `source` alone counts the matches
    if level == levels.INSTANCE and not whole_instance:
        rows_source = source.outerjoin(instance_qido,
                                       instance_qido.c.sop_uid == instances.c.sop_uid)
    return select(*columns).select_from(rows_source).where(*where), where, source


def find_candidates(engine: Engine, query: QidoQuery, scope: Scope, *,
                    whole_instance: bool = True) -> Candidates:
    """The rows of a QIDO search: the page itself, or every candidate to match in Python.

    `whole_instance=False`: instance rows carry only the QIDO instance attributes
    (instance_qido), enough when neither the answer nor the matching needs others.
    """
    conditions, residual = [], []
    for flt in query.matching:
        condition, exact = (None, False) if query.empty else _condition(flt, query.fuzzy)
        if condition is not None:
            conditions.append(condition)
        if not exact:
            residual.append(flt)
    statement, where, source = _statement(query.level, scope, conditions, whole_instance)
    statement = statement.order_by(*_order(query.level, scope))
    with engine.connect() as connection:
        if residual:
            rows = connection.execute(statement).all()
            return Candidates(rows, residual, len(rows))
        rows = connection.execute(statement.limit(query.limit).offset(query.offset)).all()
        if query.offset == 0 and len(rows) < query.limit:
            total = len(rows)
        else:
            total = connection.execute(select(func.count()).select_from(source)
                                       .where(*where)).scalar_one()
    return Candidates(rows, [], total)


def scope_exists(engine: Engine, scope: Scope) -> bool:
    """Whether the study (and series) of a search path are stored."""
    if scope.series_uid is not None:
        statement = select(series.c.series_uid).where(series.c.series_uid == scope.series_uid,
                                                      series.c.study_uid == scope.study_uid)
    else:
        statement = select(studies.c.study_uid).where(studies.c.study_uid == scope.study_uid)
    with engine.connect() as connection:
        return connection.execute(statement).first() is not None


# -- WADO-RS metadata ----------------------------------------------------------------------

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
        rows = connection.execute(statement).all()
    # Sorted here: SQLite would sort megabytes of JSON in a temporary b-tree.
    rows = sorted(rows, key=_metadata_order)
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
        rows = connection.execute(select(
            instances.c.series_uid, instances.c.instance_number, instances.c.sop_uid,
            instances.c.content_hash).where(*where)).all()
        last_modified = connection.execute(changed).scalar() if rows else None
    rows = sorted(rows, key=_metadata_order)
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
        rows = connection.execute(select(
            instances.c.series_uid, instances.c.instance_number, instances.c.sop_uid)
            .where(*where)).all()
    rows = sorted(rows, key=_metadata_order)
    return [InstanceKey(row.series_uid, row.sop_uid) for row in rows]
