"""store/prepared.py: QIDO statements run on the driver connection answer exactly what
SQLAlchemy Core answers, on SQLite and PostgreSQL; errors stay SQLAlchemy's."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import DBAPIError

from service.dicomweb import levels
from service.dicomweb.query import parse_query
from service.examples.factory import make_studies
from service.store.prepared import Prepared, reading
from service.store.qido_search import Candidates, Scope, find_candidates
from service.store.schema import studies

DUMPS = make_studies(24, seed=5)
FIRST = DUMPS[0][0]
NAME = FIRST["00100010"]["Value"][0]["Alphabetic"]
UIDS = [dump[0]["0020000D"]["Value"][0] for dump in DUMPS[:3]]
SERIES_UID = FIRST["0020000E"]["Value"][0]
FAMILIES = [dump[0]["00100010"]["Value"][0]["Alphabetic"].split("^")[0] for dump in DUMPS]
COMMON = max(FAMILIES, key=FAMILIES.count)  # a name with a page past the first
COMMON_ASCII = max((name for name in FAMILIES if name.isascii()), key=FAMILIES.count)

# (level, query pairs, scope): every condition shape of store/qido_search, paged by SQL
# or with a residual matched in Python.
SEARCHES: list[tuple[str, list[tuple[str, str]], Scope]] = [
    (levels.STUDY, [("PatientName", NAME.split("^")[0] + "*")], Scope()),
    (levels.STUDY, [("PatientName", COMMON + "*"), ("limit", "1"), ("offset", "1")],
     Scope()),
    (levels.STUDY, [("PatientName", COMMON_ASCII + "*"), ("limit", "1"), ("offset", "1")],
     Scope()),
    (levels.STUDY, [("PatientName", NAME.lower())], Scope()),
    (levels.STUDY, [("PatientID", FIRST["00100020"]["Value"][0])], Scope()),
    (levels.STUDY, [("StudyInstanceUID", ",".join(UIDS))], Scope()),
    (levels.STUDY, [("ModalitiesInStudy", "CT"), ("limit", "5")], Scope()),
    (levels.STUDY, [("StudyDate", "20180101-20201231")], Scope()),
    (levels.STUDY, [("AccessionNumber", "*1*")], Scope()),
    (levels.STUDY, [("PatientName", "smi*"), ("fuzzymatching", "true")], Scope()),
    (levels.SERIES, [("Modality", "CT,MR")], Scope()),
    (levels.SERIES, [], Scope(UIDS[0])),
    (levels.INSTANCE, [("InstanceNumber", "1,2")], Scope()),
    (levels.INSTANCE, [], Scope(UIDS[0], SERIES_UID)),
    (levels.INSTANCE, [("includefield", "all")], Scope(UIDS[0])),
]


@pytest.fixture
def stored(client: FlaskClient, engine: Engine) -> Engine:
    for dump in DUMPS:
        answer = client.post("/v1/dumps", data=orjson.dumps(dump),
                             headers={"Content-Type": "application/dicom+json"})
        assert answer.status_code in (200, 201), answer.get_data(as_text=True)
    return engine


def _search(engine: Engine, level: str, pairs: list[tuple[str, str]], scope: Scope
            ) -> Candidates:
    return find_candidates(engine, parse_query(pairs, level, default_limit=100,
                                               max_limit=1000), scope)


@pytest.mark.parametrize(("level", "pairs", "scope"), SEARCHES)
def test_driver_rows_equal_core_rows(stored: Engine, level: str,
                                     pairs: list[tuple[str, str]], scope: Scope) -> None:
    driver = _search(stored, level, pairs, scope)
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(stored, "before_cursor_execute", record)
    try:
        core = _search(stored, level, pairs, scope)
    finally:
        sa.event.remove(stored, "before_cursor_execute", record)
    assert seen, "with a cursor listener the statements go through Core"
    assert driver.rows, "every search here finds something"
    assert [row._fields for row in driver.rows] == [row._fields for row in core.rows]
    assert [tuple(row) for row in driver.rows] == [tuple(row) for row in core.rows]
    # Same Python types too (SQLite's booleans are integers to the driver).
    assert [[type(value) for value in row] for row in driver.rows] == \
        [[type(value) for value in row] for row in core.rows]
    assert (driver.total, driver.residual) == (core.total, core.residual)


def test_without_a_listener_no_core_execution_is_seen(stored: Engine) -> None:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    # A listener on another event does not divert the search from the driver.
    sa.event.listen(stored, "commit", record)
    try:
        found = _search(stored, *SEARCHES[0])
    finally:
        sa.event.remove(stored, "commit", record)
    assert found.rows and not seen


def test_expanding_parameters_cannot_be_prepared(engine: Engine) -> None:
    statement = select(studies.c.study_uid).where(
        studies.c.study_uid.in_(bindparam("uids", expanding=True)))
    with pytest.raises(ValueError, match="expanding"):
        Prepared.of(statement, engine.dialect)


def test_driver_errors_are_sqlalchemy_errors_without_their_values(stored: Engine) -> None:
    secret = "SECRET^PATIENT"
    broken = select(studies.c.study_uid, sa.literal_column("no_such_column")).where(
        studies.c.patient_name_key == bindparam("name"))
    prepared = Prepared.of(broken, stored.dialect)
    with reading(stored) as read, pytest.raises(DBAPIError) as raised:
        read(prepared, {"name": secret})
    assert secret not in str(raised.value)
    # The pool took the connection back in a usable state.
    assert _search(stored, *SEARCHES[0]).rows


def test_defaults_bound_by_sqlalchemy_are_sent(stored: Engine) -> None:
    """LIMIT 2 with no OFFSET given: SQLite's compiled SQL binds OFFSET itself."""
    statement = select(studies.c.study_uid).order_by(studies.c.study_uid).limit(2)
    prepared = Prepared.of(statement, stored.dialect)
    with reading(stored) as read:
        rows = read(prepared, {})
    with stored.connect() as connection:
        expected = connection.execute(statement).all()
    assert [tuple(row) for row in rows] == [tuple(row) for row in expected]
    assert len(rows) == 2
