"""The ingest leniency policy (docs/ingest-policy.md), the same on SQLite and PostgreSQL.

Each case is one odd dump of one CT instance. Every back end available runs it (SQLite
always, PostgreSQL too when DICOM_RESOLVER_TEST_DATABASE_URL names a server): the
answer must be the expected one and the same on each; a refused dump names the path
and leaves the store byte-for-byte unchanged; an accepted one is stored as received
(pydicom reads the stored JSON as it reads the sent one), reports its warnings by
path, and is found by the searches that name the odd value.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pydicom
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from service import create_app
from service.examples.factory import make_ct_dump
from service.settings import Settings
from tests.api.conftest import post_dump
from tests.support.database import TEST_DATABASE_VARIABLE, fresh_schema, snapshot

MAX_DEPTH = Settings.max_sequence_depth
JSON_LIMIT = "nested more than 254 levels"
SEQUENCE_LIMIT = f"sequences nested deeper than {MAX_DEPTH}"

Instance = dict[str, Any]


@dataclass
class Case:
    name: str
    change: Callable[[Instance], Instance | bytes]  # the instance → it changed, or a body
    status: int = 200
    paths: list[str] | None = field(default_factory=list)  # of the errors, or warnings
    detail: str = ""  # a fragment of the first error's or warning's detail
    searches: list[str] = field(default_factory=list)  # queries that must find the study
    stored: Callable[[Instance], Instance] | None = None  # what the store must hold


def _set(key: str, vr: str, *values: Any) -> Callable[[Instance], Instance]:
    def change(instance: Instance) -> Instance:
        return {**instance, key: {"vr": vr, "Value": list(values)}}
    return change


def _sop_uid(instance: Instance) -> str:
    return instance["00080018"]["Value"][0]


def _pad_sop(padding: str) -> Callable[[Instance], Instance]:
    def change(instance: Instance) -> Instance:
        return {**instance, "00080018": {"vr": "UI", "Value": [_sop_uid(instance) + padding]}}
    return change


def _referenced(uid: str) -> Callable[[Instance], Instance]:
    """A referenced UID two sequences deep, as RT plans and SRs carry them."""
    def change(instance: Instance) -> Instance:
        item = {"00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.481.5"]},
                "00081155": {"vr": "UI", "Value": [uid]}}
        return {**instance, "300C0002": {"vr": "SQ", "Value": [
            {"300C0006": {"vr": "IS", "Value": [1]}, "300C0004": {"vr": "SQ",
                                                                  "Value": [item]}}]}}
    return change


def _text(change: Callable[[bytes], bytes], *, indent: bool = False,
          one_object: bool = False) -> Callable[[Instance], bytes]:
    """A body built from the instance's JSON text (what a dict cannot hold)."""
    def build(instance: Instance) -> bytes:
        option = orjson.OPT_INDENT_2 if indent else 0
        text = orjson.dumps(instance if one_object else [instance], option=option)
        changed = change(text)
        assert changed != text
        return changed
    return build


def _first(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    return lambda text: text.replace(old, new, 1)


def _appended(attribute: bytes) -> Callable[[Instance], bytes]:
    return lambda instance: orjson.dumps([instance])[:-2] + b"," + attribute + b"}]"


def _nested_sequence(depth: int) -> Callable[[Instance], bytes]:
    """ReferencedImageSequence items nested `depth` sequences deep (written as text:
    orjson writes at most 254 levels)."""
    def build(instance: Instance) -> bytes:
        item = b'{"00081155":{"vr":"UI","Value":["1.2.3"]}}'
        for _ in range(depth - 1):
            item = b'{"00081140":{"vr":"SQ","Value":[' + item + b"]}}"
        text = orjson.dumps([instance])
        return text[:-2] + b',"00081140":{"vr":"SQ","Value":[' + item + b"]}}]"
    return build


def _nested_json(opening: bytes, closing: bytes, depth: int) -> Callable[[Instance], bytes]:
    def build(instance: Instance) -> bytes:
        text = orjson.dumps([instance])
        return (text[:-2] + b',"00771001":{"vr":"LO","junk":' + opening * depth + b"1"
                + closing * depth + b"}}]")
    return build


LONG_ID = "P" * 100
LONGER_THAN_INDEX = "Q" * 300  # beyond index_values.INDEX_TEXT_MAX
LONG_NAME = "N" * 400

CASES = [
    # Accepted, stored as received, reported in warnings.
    Case("referenced UID with leading zeros", _referenced("1.2.123.456.78.9.0123.4567"),
         paths=["$[0].300C0002.Value[0].300C0004.Value[0].00081155.Value[0]"],
         detail="leading zeros"),
    Case("referenced UID over 64 characters", _referenced("1." * 40 + "1"),
         paths=["$[0].300C0002.Value[0].300C0004.Value[0].00081155.Value[0]"],
         detail="longer than 64"),
    Case("PatientID over 64", _set("00100020", "LO", LONG_ID),
         paths=["$[0].00100020.Value[0]"], detail="longer than 64",
         searches=[f"PatientID={LONG_ID}"]),
    Case("PatientID beyond the index prefix", _set("00100020", "LO", LONGER_THAN_INDEX),
         paths=["$[0].00100020.Value[0]"], searches=[f"PatientID={LONGER_THAN_INDEX}"]),
    Case("NUL in PatientID", _set("00100020", "LO", "PAT\x00X"),
         paths=["$[0].00100020.Value[0]"], detail="NUL",
         searches=["PatientID=PAT\x00X"]),
    Case("PatientName over 324", _set("00100010", "PN", {"Alphabetic": LONG_NAME}),
         paths=["$[0].00100010.Value[0].Alphabetic"], detail="longer than 64",
         searches=[f"PatientName={LONG_NAME[:200]}*"]),
    Case("StudyDate of 10 digits", _set("00080020", "DA", "2024031200"),
         paths=["$[0].00080020.Value[0]"], detail="longer than 8"),
    Case("StudyTime over 16", _set("00080030", "TM", "1015021234567890123"),
         paths=["$[0].00080030.Value[0]"], detail="longer than 14"),
    Case("Modality over 16", _set("00080060", "CS", "M" * 20),
         paths=["$[0].00080060.Value[0]"], detail="longer than 16",
         searches=["ModalitiesInStudy=" + "M" * 20]),
    Case("AccessionNumber over 16", _set("00080050", "SH", "A" * 80),
         paths=["$[0].00080050.Value[0]"], searches=["AccessionNumber=" + "A" * 80]),
    Case("SOPClassUID over 64", _set("00080016", "UI", "1." * 40 + "1"),
         paths=["$[0].00080016.Value[0]"], detail="longer than 64"),
    Case("InstanceNumber beyond 32 bits", _set("00200013", "IS", "99999999999"),
         paths=["$[0].00200013.Value[0]"], detail="32-bit"),
    Case("IS text that is no number", _set("00200013", "IS", "twelve"),
         paths=["$[0].00200013.Value[0]"], detail="not an integer"),
    Case("DS text that is no number", _set("00281053", "DS", "one"),
         paths=["$[0].00281053.Value[0]"], detail="not a decimal"),
    Case("DS text beyond a float", _set("00281053", "DS", "1e400"),
         paths=["$[0].00281053.Value[0]"], detail="64-bit float"),
    Case("SOPInstanceUID padded with a space", _pad_sop(" "),
         paths=["$[0].00080018.Value[0]"], detail="padding",
         stored=lambda sent: {**sent, "00080018": {"vr": "UI", "Value": [
             _sop_uid(sent).rstrip(" ")]}}),
    Case("SOPInstanceUID padded with a NUL", _pad_sop("\x00"),
         paths=["$[0].00080018.Value[0]"], detail="padding",
         stored=lambda sent: {**sent, "00080018": {"vr": "UI", "Value": [
             _sop_uid(sent).rstrip("\x00")]}}),
    Case("a surrogate pair is a character", _text(_first(b'"00081030":{"vr":"LO","Value":["',
                                                         b'"00081030":{"vr":"LO","Value":["'
                                                         b'\\ud83d\\ude00'))),
    # Refused: 400 naming the path (or the limit), nothing stored.
    Case("SOPInstanceUID ending in a newline", _pad_sop("\n"), 400,
         ["$[0].00080018.Value[0]"], "control character"),
    Case("SeriesInstanceUID with letters", _set("0020000E", "UI", "1.2.3a"), 400,
         ["$[0].0020000E.Value[0]"], "digits"),
    Case("DS number beyond a float", _text(_first(b'"00281053":{"vr":"DS","Value":[1',
                                                  b'"00281053":{"vr":"DS","Value":[1e400')),
         400, ["$[0].00281053.Value[0]"], "64-bit float"),
    Case("FD number beyond a float", lambda i: orjson.dumps([{**i, "00189306": {
        "vr": "FD", "Value": [1.5]}}]).replace(b"[1.5]", b"[-1.5e999]"), 400,
         ["$[0].00189306.Value[0]"], "64-bit float"),
    Case("lone surrogate in a string", _text(_first(b'"00081030":{"vr":"LO","Value":["',
                                                    b'"00081030":{"vr":"LO","Value":["'
                                                    b'\\ud800')),
         400, ["$[0].00081030.Value[0]"], "surrogate"),
    Case("lone surrogate in a person name", _text(_first(b'"Alphabetic":"',
                                                         b'"Alphabetic":"\\uDFFF')),
         400, ["$[0].00080090.Value[0].Alphabetic"], "surrogate"),
    Case("duplicate key in an instance", _text(_first(b'[{', b'[{"00100020":{"vr":"LO",'
                                                             b'"Value":["OTHER"]},')),
         400, ["$[0].00100020"], "'00100020' appears more than once"),
    Case("duplicate key, pretty-printed", _text(_first(b'[\n  {', b'[\n  {\n    "00100020":'
                                                                  b' {"vr": "LO", "Value":'
                                                                  b' ["OTHER"]},'),
                                                indent=True),
         400, ["$[0].00100020"], "appears more than once"),
    Case("duplicate Value of an attribute", _text(_first(b'"vr":"LO","Value":[',
                                                         b'"vr":"LO","Value":["X"],"Value":[')),
         400, None, "'Value' appears more than once"),
    Case("duplicate person name group", _text(_first(b'{"Alphabetic":"',
                                                     b'{"Alphabetic":"X","Alphabetic":"')),
         400, ["$[0].00080090.Value[0].Alphabetic"], "appears more than once"),
    Case("duplicate key escaped with \\u", _text(_first(b'[{', b'[{"0010\\u00320020":{"vr":'
                                                               b'"LO","Value":["X"]},'
                                                               b'"00100020":'
                                                               b'{"vr":"LO","Value":["Y"]},'
                                                               b'"00771010":'
                                                               b'{"vr":"LO","Value":[":"]},'
                                                               )),
         400, ["$[0].00100020"], "appears more than once"),
    Case("duplicate key in a one-object dump", _text(_first(b'{', b'{"00100020":{"vr":"LO",'
                                                                  b'"Value":["OTHER"]},'),
                                                     one_object=True),
         400, ["$[0].00100020"], "appears more than once"),
    Case("duplicate key in an ignored member", _appended(b'"00771001":{"vr":"LO","Value":'
                                                         b'["x"],"junk":[{"a":1,"a":2}]}'),
         400, ["$[0].00771001.junk[0].a"], "'a' appears more than once"),
    Case("number beyond a float in an ignored member",
         _appended(b'"00771001":{"vr":"LO","junk":{"b":[-1e400]}}'), 400,
         ["$[0].00771001.junk.b[0]"], "64-bit float"),
    Case("arrays nested 10,000 deep", _nested_json(b"[", b"]", 10_000), 400, ["$"],
         JSON_LIMIT),
    Case("objects nested 10,000 deep", _nested_json(b'{"a":', b"}", 10_000), 400, ["$"],
         JSON_LIMIT),
    Case("arrays nested 300 deep in an ignored member", _nested_json(b"[", b"]", 300), 400,
         None, JSON_LIMIT),
    *[Case(f"sequences nested {depth} deep", _nested_sequence(depth), 400, None,
           SEQUENCE_LIMIT) for depth in (MAX_DEPTH + 1, 50, 84, 85, 90, 100, 254)],
    *[Case(f"sequences nested {depth} deep", _nested_sequence(depth), 400, ["$"],
           JSON_LIMIT) for depth in (400, 1000, 5000)],
]


@dataclass
class BackEnd:
    name: str
    client: FlaskClient
    engine: Engine


@pytest.fixture
def back_ends(tmp_path: Path) -> Iterator[list[BackEnd]]:
    """SQLite, and PostgreSQL when the environment names a server."""
    urls = [("sqlite", f"sqlite:///{tmp_path / 'store.sqlite3'}")]
    schemas = []
    server_url = os.environ.get(TEST_DATABASE_VARIABLE)
    if server_url:
        schemas.append(fresh_schema(server_url))
        urls.append(("postgresql", next(schemas[0])))
    apps = [create_app(Settings.load(environ={}, database_url=url, migrate_on_start=True))
            for _, url in urls]
    try:
        yield [BackEnd(name, app.test_client(), app.extensions["engine"])
               for (name, _), app in zip(urls, apps, strict=True)]
    finally:
        for app in apps:
            app.extensions["engine"].dispose()
        for schema in schemas:
            next(schema, None)


def _instance(seed: int) -> Instance:
    return make_ct_dump(1, seed=seed, rows=16, columns=16)[0]


def _pydicom(instance: Instance) -> pydicom.Dataset | str:
    """pydicom's reading of an instance, or its complaint (it refuses IS/DS text that is
    no number: then it must refuse the stored JSON the same way)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the values the case makes odd
        try:
            return pydicom.Dataset.from_json(instance, bulk_data_uri_handler=lambda *_: b"")
        except ValueError as exc:
            return str(exc)


def _answer(back_end: BackEnd, case: Case, body: bytes, sent: Instance | None) -> dict:
    """What a client sees of one case on one back end (the same everywhere)."""
    before = snapshot(back_end.engine)
    response = post_dump(back_end.client, body)
    answer = response.get_json()
    assert response.status_code == case.status, (back_end.name, answer)
    if case.status != 200:
        assert response.mimetype == "application/problem+json"
        assert snapshot(back_end.engine) == before, back_end.name
        return {"status": response.status_code, "errors": answer["errors"]}
    assert sent is not None
    study, series = answer["studies"][0], answer["series"][0]
    sop = _sop_uid(sent).rstrip(" \x00")
    stored = back_end.client.get(f"/v1/studies/{study}/series/{series}/instances/{sop}"
                                 "?view=dicom")
    assert stored.status_code == 200, back_end.name
    expected = case.stored(sent) if case.stored else sent
    assert orjson.loads(stored.data) == expected
    assert _pydicom(orjson.loads(stored.data)) == _pydicom(expected)
    found = {}
    for search in case.searches:
        qido = back_end.client.get(f"/dicomweb/studies?{quote(search, safe='=*')}")
        assert qido.status_code == 200, (back_end.name, search, qido.get_json())
        found[f"qido {search}"] = [item["0020000D"]["Value"][0] for item in qido.get_json()]
        v1 = back_end.client.get(f"/v1/studies?{quote(search, safe='=*')}")
        assert v1.status_code == 200, (back_end.name, search, v1.get_json())
        found[f"v1 {search}"] = [item["StudyInstanceUID"] for item in v1.get_json()["items"]]
    assert all(uids == [study] for uids in found.values()), (back_end.name, found)
    del answer["dump_id"]
    return {"status": 200, "answer": answer, "stored": stored.data, "found": found}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_odd_dumps_get_the_same_answer_on_every_back_end(back_ends: list[BackEnd],
                                                         case: Case) -> None:
    sent = _instance(seed=500 + CASES.index(case))
    changed = case.change(copy.deepcopy(sent))
    body = changed if isinstance(changed, bytes) else orjson.dumps([changed])
    instance = None if isinstance(changed, bytes) else changed
    if instance is None and case.status == 200:
        instance = orjson.loads(body)[0]
    answers = [_answer(back_end, case, body, instance) for back_end in back_ends]
    first = answers[0]
    findings = first["errors"] if case.status != 200 else first["answer"]["warnings"]
    if case.paths is not None:
        assert [f["path"] for f in findings] == case.paths, findings
    if case.detail:
        assert case.detail in findings[0]["detail"], findings
    for answer in answers[1:]:
        assert answer == first
