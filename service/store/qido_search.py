"""QIDO-RS candidate search: the SQL side of a DICOMweb search (SQLAlchemy Core).

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

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Engine,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ColumnElement

from service.dicom import tags
from service.dicom.index_values import INT32, index_text, is_indexed_text
from service.dicomweb import levels
from service.dicomweb.query import Filter, QidoQuery
from service.store import queries
from service.store.prepared import Prepared, Read, reading
from service.store.queries import wildcard_to_like
from service.store.schema import instance_qido, instances, series, studies


@dataclass(frozen=True, slots=True)
class Scope:
    study_uid: str | None = None
    series_uid: str | None = None


@dataclass(slots=True)
class Candidates:
    rows: Sequence[Any]
    residual: list[Filter]  # still to match in Python; [] → rows are the page
    total: int  # matches (exact), or candidates (residual)


@dataclass(frozen=True, slots=True)
class _Condition:
    """One matching key as SQL: its shape (what _build makes of it, values bound apart:
    one parameter per value, so an IN list's length is part of the shape), the values,
    and whether SQL alone decides the match."""

    shape: tuple
    values: tuple
    exact: bool


_UID_COLUMNS = {tags.STUDY_INSTANCE_UID: studies.c.study_uid,
                tags.SERIES_INSTANCE_UID: series.c.series_uid,
                tags.SOP_INSTANCE_UID: instances.c.sop_uid,
                tags.SOP_CLASS_UID: instances.c.sop_class_uid}
_TEXT_COLUMNS = {tags.PATIENT_ID: studies.c.patient_id,
                 tags.ACCESSION_NUMBER: studies.c.accession_number,
                 tags.MODALITY: series.c.modality}
_NUMBER_COLUMNS = {tags.SERIES_NUMBER: series.c.series_number,
                   tags.INSTANCE_NUMBER: instances.c.instance_number}


def _text_condition(flt: Filter) -> _Condition | None:
    """Exact values → IN (exact); wildcards → LIKE (a superset: SQLite ignores ASCII case).

    The column holds index_text of the value: a value that is not its own index form
    (NUL, longer than the index prefix) is compared by that form, and Python decides.
    """
    exact = [t.text for t in flt.terms if t.kind == "exact"]
    likes = [t.text for t in flt.terms if t.kind == "wildcard"]
    if not all(is_indexed_text(v) for v in exact + likes):
        if likes:
            return None  # a prefix of a pattern is no pattern: Python matches
        return _Condition(("text", flt.key, len(exact), 0),
                          tuple(index_text(v) for v in exact), False)
    values = (*exact, *(wildcard_to_like(p) for p in likes))
    return _Condition(("text", flt.key, len(exact), len(likes)), values, not likes)


def name_prefix(flt: Filter) -> str | None:
    """The upper-cased prefix of a PatientName key that is one `PREFIX*` pattern whose
    match is decided by the key's range (see records.InstanceRecord.patient_name_plain):
    ASCII, no other wildcard, no space (Python's match trims spaces around components),
    not ending in "^" (Python ignores trailing empty components); None otherwise."""
    if len(flt.terms) != 1 or flt.terms[0].kind != "wildcard":
        return None
    prefix = flt.terms[0].text[:-1]
    if not flt.terms[0].text.endswith("*") or not prefix or not prefix.isascii() \
            or "*" in prefix or "?" in prefix or prefix.endswith("^") \
            or any(c.isspace() for c in prefix) or not is_indexed_text(prefix):
        return None
    return prefix.upper()


def _condition(flt: Filter, fuzzy: bool, level: str) -> _Condition | None:
    if len(flt.path) > 1 or (fuzzy and flt.vr == "PN"):
        return None
    key, kinds = flt.key, {t.kind for t in flt.terms}
    if key in _UID_COLUMNS:
        return _Condition(("uid", key, len(flt.terms)), tuple(t.text for t in flt.terms), True)
    if key in _TEXT_COLUMNS and kinds <= {"exact", "wildcard"}:
        return _text_condition(flt)
    if key == tags.PATIENT_NAME and kinds <= {"exact", "wildcard"}:
        prefix = name_prefix(flt)
        if prefix is not None:
            # The keys that start with the prefix: a range the key's index seeks. Exact in
            # a study search when every study in the range has a plain name (checked by
            # find_candidates); series and instance rows carry other levels' names too.
            high = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            return _Condition(("name_range",), (prefix, high), level == levels.STUDY)
        # PN: the upper-cased Alphabetic group; trailing empty components and the other
        # groups are left to Python, so the prefix pattern is only a pre-filter.
        patterns = [wildcard_to_like(t.text.upper().rstrip("^")) + "%" for t in flt.terms]
        return _Condition(("name_like", len(patterns)), tuple(patterns), False)
    if key == tags.STUDY_DATE and kinds == {"range"}:
        term = flt.terms[0]
        bounds = (term.low[:8] if term.low else None, term.high[:8] if term.high else None)
        return _Condition(("date", bounds[0] is not None, bounds[1] is not None),
                          tuple(b for b in bounds if b is not None),
                          flt.time_key is None and len(flt.terms) == 1)
    if key == tags.MODALITIES_IN_STUDY and kinds == {"exact"}:
        return _Condition(("modalities", len(flt.terms)), tuple(t.text for t in flt.terms),
                          True)
    # The columns index IS's 32-bit range only (index_values): Python matches the rest.
    if key in _NUMBER_COLUMNS and kinds == {"number"} and all(
            t.number.is_integer() and INT32[0] <= t.number <= INT32[1] for t in flt.terms):
        return _Condition(("number", key, len(flt.terms)),
                          tuple(int(t.number) for t in flt.terms), True)
    return None


def _build(shape: tuple, name: str) -> ColumnElement:
    """The SQL of a condition's shape; its values are the bound parameters name_0, name_1…"""
    def value(index: int) -> Any:
        return bindparam(f"{name}_{index}")

    def values(count: int) -> list:
        return [value(index) for index in range(count)]

    kind = shape[0]
    if kind == "uid":
        return _UID_COLUMNS[shape[1]].in_(values(shape[2]))
    if kind == "text":
        _, key, exact, likes = shape
        column = _TEXT_COLUMNS[key]
        parts = [column.in_(values(exact))] if exact else []
        parts += [column.like(value(exact + i), escape="\\") for i in range(likes)]
        return or_(*parts)
    if kind == "name_range":
        return and_(studies.c.patient_name_key >= value(0),
                    studies.c.patient_name_key < value(1))
    if kind == "name_like":
        return or_(*(studies.c.patient_name_key.like(value(i), escape="\\")
                     for i in range(shape[1])))
    if kind == "date":
        _, has_low, has_high = shape
        parts = []
        if has_low:
            parts.append(studies.c.study_date >= value(0))
        if has_high:
            parts.append(studies.c.study_date <= value(1 if has_low else 0))
        return and_(*parts)
    if kind == "modalities":
        # An alias: in a series or instance search `series` is already in the outer query,
        # and the subquery would correlate it away (no FROM left: a 500).
        any_series = series.alias("any_series_of_study")
        return exists().where(and_(any_series.c.study_uid == studies.c.study_uid,
                                   any_series.c.modality.in_(values(shape[1]))))
    if kind == "number":
        return _NUMBER_COLUMNS[shape[1]].in_(values(shape[2]))
    raise ValueError(f"unknown condition shape {kind}")


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


def _statement(level: str, scope: Scope, conditions: list,  # type: ignore[no-untyped-def]
               whole_instance: bool = True):
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


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a search's statements depend on, values apart (a few shapes in practice)."""

    level: str
    in_study: bool
    in_series: bool
    whole_instance: bool
    conditions: tuple[tuple, ...]
    paged: bool  # SQL pages and counts (no residual)


@dataclass(frozen=True, slots=True)
class _Statements:
    rows: Prepared
    count: Prepared


# A search's statements are built and compiled once per shape and dialect and run with
# new values on the driver's connection (store/prepared.py): each request skips building
# the expression tree, finding its compiled form and SQLAlchemy's execution machinery.
@lru_cache(maxsize=512)
def _statements(shape: _Shape, dialect: Dialect) -> _Statements:
    rows, count = _selects(shape)
    return _Statements(Prepared.of(rows, dialect), Prepared.of(count, dialect))


def _selects(shape: _Shape) -> tuple[Select, Select]:
    """The rows and the count of a shape, values bound apart (c0_0, c0_1, …, q_limit…)."""
    conditions = [_build(condition, f"c{i}") for i, condition in enumerate(shape.conditions)]
    scope = Scope(bindparam("scope_study") if shape.in_study else None,  # type: ignore[arg-type]
                  bindparam("scope_series") if shape.in_series else None)  # type: ignore[arg-type]
    rows, where, source = _statement(shape.level, scope, conditions, shape.whole_instance)
    if ("name_range",) in shape.conditions:
        # Whether the names the rows hold are plain: the page can then tell alone that the
        # range matched exactly (see find_candidates).
        rows = rows.add_columns(studies.c.patient_name_plain.label("name_plain"))
    order = _order(shape.level, scope)
    if shape.paged and shape.level == levels.STUDY:
        rows = _study_page(rows, where, order)
    elif shape.paged:
        rows = rows.order_by(*order).limit(bindparam("q_limit", type_=Integer)) \
            .offset(bindparam("q_offset", type_=Integer))
    else:
        rows = rows.order_by(*order)
    count = select(func.count()).select_from(source).where(*where)
    if shape.paged and ("name_range",) in shape.conditions:
        # With the total, how many matches have a name the range cannot decide: a page
        # that is not the whole answer learns both in one round trip (find_candidates).
        count = count.add_columns(func.count(case(
            (studies.c.patient_name_plain.is_not(True), 1))).label("unplain"))
    return rows, count


def _study_page(rows: Select, where: list, order: list) -> Select:
    """A page of studies chosen by their keys first, then read whole: the sort that picks
    the page carries (date, time, UID) of every match, not its level JSON — with a
    PatientName range, from ix_studies_patient_name_key alone (it holds the order columns)."""
    page = (select(studies.c.study_uid).where(*where).order_by(*order)
            .limit(bindparam("q_limit", type_=Integer))
            .offset(bindparam("q_offset", type_=Integer)).subquery("page"))
    return (select(*rows.selected_columns)
            .select_from(page.join(studies, studies.c.study_uid == page.c.study_uid))
            .order_by(*order))


@lru_cache(maxsize=8)
def _unplain_name_in_range(dialect: Dialect) -> Prepared:
    """A study in a PatientName key range whose name a range cannot decide (read from
    ix_studies_patient_name_key alone)."""
    key = studies.c.patient_name_key
    return Prepared.of(select(key).where(key >= bindparam("low"), key < bindparam("high"),
                                         studies.c.patient_name_plain.is_not(True)).limit(1),
                       dialect)


def find_candidates(engine: Engine, query: QidoQuery, scope: Scope, *,
                    whole_instance: bool = True) -> Candidates:
    """The rows of a QIDO search: the page itself, or every candidate to match in Python.

    `whole_instance=False`: instance rows carry only the QIDO instance attributes
    (instance_qido), enough when neither the answer nor the matching needs others.
    """
    found: list[tuple[Filter, _Condition | None]] = [
        (flt, None if query.empty else _condition(flt, query.fuzzy, query.level))
        for flt in query.matching]
    conditions = [condition for _, condition in found if condition is not None]
    values: dict[str, Any] = {f"c{i}_{j}": value for i, condition in enumerate(conditions)
                              for j, value in enumerate(condition.values)}
    if scope.study_uid is not None:
        values["scope_study"] = scope.study_uid
    if scope.series_uid is not None:
        values["scope_series"] = scope.series_uid
    # A PatientName range is exact when every study it matches has a plain name.
    has_range = any(condition.exact and condition.shape[0] == "name_range"
                    for condition in conditions)
    dialect = engine.dialect
    with reading(engine) as read:
        names_plain = True
        if all(condition is not None and condition.exact for _, condition in found):
            # The page first: when it holds every match, whether their names are plain is
            # in its own rows, one round trip; otherwise the count tells (a second one).
            statements = _statements(_shape(query, scope, whole_instance, conditions, True),
                                     dialect)
            rows = read(statements.rows, {**values, "q_limit": query.limit,
                                          "q_offset": query.offset})
            if query.offset == 0 and len(rows) < query.limit:  # the whole answer
                names_plain = not has_range or all(row.name_plain for row in rows)
                if names_plain:
                    return Candidates(rows, [], len(rows))
            else:
                counted = read(statements.count, values)[0]
                names_plain = not has_range or counted[1] == 0
                if names_plain:
                    return Candidates(rows, [], counted[0])
        elif has_range:
            names_plain = _names_plain(read, dialect, conditions)
        residual = [flt for flt, condition in found if condition is None or not condition.exact
                    or (condition.shape[0] == "name_range" and not names_plain)]
        statements = _statements(_shape(query, scope, whole_instance, conditions, False),
                                 dialect)
        rows = read(statements.rows, values)
        return Candidates(rows, residual, len(rows))


def _shape(query: QidoQuery, scope: Scope, whole_instance: bool,
           conditions: list[_Condition], paged: bool) -> _Shape:
    return _Shape(query.level, scope.study_uid is not None, scope.series_uid is not None,
                  whole_instance, tuple(condition.shape for condition in conditions), paged)


def _names_plain(read: Read, dialect: Dialect, conditions: list[_Condition]) -> bool:
    """Whether every study in the PatientName ranges of a search has a plain name."""
    return all(not read(_unplain_name_in_range(dialect),
                        {"low": condition.values[0], "high": condition.values[1]})
               for condition in conditions if condition.shape[0] == "name_range"
               and condition.exact)


def scope_exists(engine: Engine, scope: Scope) -> bool:
    """Whether the study (and series) of a search path are stored."""
    if scope.series_uid is not None:
        return queries.series_exists(engine, scope.study_uid or "", scope.series_uid)
    return queries.study_exists(engine, scope.study_uid or "")
