"""PatientName `PREFIX*` decided by a range on the index key equals the Python match.

The oracle is the answer the search gave before SQL decided it: the key's LIKE pre-filter
then matching.matches_all over every candidate. Names that a range cannot decide
(several values, NUL, non-ASCII whose upper case is ASCII) make the search fall back to
that path; the answer is the same either way, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from service.dicomweb.matching import Options, matches_all
from service.dicomweb.query import parse_query
from service.store.schema import studies
from service.usecases.ingest import ingest_bytes

NAMES: list[Any] = [
    "SMITH^JOHN", "smith^jane", "Smith ^Ann", " SMITH", "SMITHSON^A^^", "SMITH^", "SMIT",
    "SMITH^JOHN^B", "SMITH^JO HN", "DOE^SMITH", "O'SMITH", "SMI_TH", "SMI%TH", "SMITH\x00X",
    "SMİTH", "SMıTH", "STRAßE", "STRASSE", "ſMITH", None, "",
    ["SMITH^A", "DOE^B"], {"Alphabetic": "JONES", "Ideographic": "SMITH"},
]
PATTERNS = ["SMITH*", "smith*", "SMITH^J*", "SMI*", "S*", "STRASS*", "SMITH^JO*", "O'S*",
            "SMI_*", "SMI%*", "DOE^*", "SMITH ^*", "Z*"]


def _instance(index: int, name: Any) -> dict[str, Any]:
    instance: dict[str, Any] = {
        "0020000D": {"vr": "UI", "Value": [f"1.2.826.0.1.3680043.10.1.{index}"]},
        "0020000E": {"vr": "UI", "Value": [f"1.2.826.0.1.3680043.10.2.{index}"]},
        "00080018": {"vr": "UI", "Value": [f"1.2.826.0.1.3680043.10.3.{index}"]},
        "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
        "00080060": {"vr": "CS", "Value": ["CT"]},
        "00080020": {"vr": "DA", "Value": [f"2020{index % 12 + 1:02d}01"]},
    }
    if isinstance(name, list):
        instance["00100010"] = {"vr": "PN", "Value": [{"Alphabetic": n} for n in name]}
    elif isinstance(name, dict):
        instance["00100010"] = {"vr": "PN", "Value": [name]}
    elif name is not None:
        instance["00100010"] = {"vr": "PN", "Value": [{"Alphabetic": name}]} if name else \
            {"vr": "PN"}
    return instance


@pytest.fixture
def stored(engine: Engine) -> Engine:
    body = orjson.dumps([_instance(i, name) for i, name in enumerate(NAMES)])
    ingest_bytes(engine, body)
    return engine


def _expected(engine: Engine, pattern: str) -> list[str]:
    """The study UIDs the LIKE pre-filter and the Python match gave, in the stable order."""
    query = parse_query([("PatientName", pattern)], "study", default_limit=100,
                        max_limit=100)
    like = pattern.upper().rstrip("^")
    with engine.connect() as connection:
        rows = connection.execute(
            select(studies.c.study_uid, studies.c.dicom_json, studies.c.patient_name_key)
            .order_by(studies.c.study_date, studies.c.study_uid)).all()
    return [row.study_uid for row in rows
            if row.patient_name_key is not None
            and row.patient_name_key.startswith(like[:-1])
            and matches_all(orjson.loads(row.dicom_json), query.matching, Options())]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_prefix_search_answers_what_the_python_match_answered(
        stored: Engine, client: FlaskClient, pattern: str) -> None:
    expected = _expected(stored, pattern)
    answer = client.get("/dicomweb/studies", query_string={"PatientName": pattern})
    found = [item["0020000D"]["Value"][0] for item in answer.get_json()] \
        if answer.status_code == 200 else []
    assert answer.status_code in (200, 204)
    assert found == expected
    paged = []
    for offset in range(0, len(expected) + 1):
        page = client.get("/dicomweb/studies", query_string={
            "PatientName": pattern, "limit": 1, "offset": offset})
        if page.status_code == 200:
            paged += [item["0020000D"]["Value"][0] for item in page.get_json()]
    assert paged == expected


def test_only_plain_names_are_decided_by_the_range(stored: Engine) -> None:
    with stored.connect() as connection:
        plain = dict(connection.execute(select(studies.c.patient_name,
                                               studies.c.patient_name_plain)).all())
    assert plain["SMITH^JOHN"] is True and plain["STRAßE"] is False
    assert plain["SMITH^A"] is False  # two values
    assert plain["SMITHX"] is False  # NUL left out of the index


# January–June keeps names the range cannot decide (SMITH\x00X, SMİTH, STRAßE); August–
# September keeps only plain ones while the rest of the S range still holds such names.
@pytest.mark.parametrize("dates", ["20200101-20200630", "20200801-20200930"])
def test_a_prefix_search_with_other_keys_pages_what_the_python_match_answered(
        stored: Engine, client: FlaskClient, dates: str) -> None:
    """The range is exact when the names of the studies the other keys keep are plain,
    whatever names the rest of the range holds: every page still agrees."""
    query = parse_query([("PatientName", "S*"), ("StudyDate", dates)], "study",
                        default_limit=100, max_limit=100)
    with stored.connect() as connection:
        rows = connection.execute(select(studies.c.study_uid, studies.c.dicom_json)
                                  .order_by(studies.c.study_date, studies.c.study_uid)).all()
    expected = [row.study_uid for row in rows
                if matches_all(orjson.loads(row.dicom_json), query.matching, Options())]
    assert len(expected) >= 2  # a page of one is then not the whole answer
    paged: list[str] = []
    for offset in range(0, len(expected) + 1):
        page = client.get("/dicomweb/studies", query_string={
            "PatientName": "S*", "StudyDate": dates, "limit": 1, "offset": offset})
        if page.status_code == 200:
            paged += [item["0020000D"]["Value"][0] for item in page.get_json()]
    assert paged == expected
