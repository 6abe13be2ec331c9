"""Property-based fuzzing of the HTTP surface (hypothesis), shared by the bounded CI
properties (test_fuzz.py) and the long run a developer leaves going (long_run.py).

Dumps: real dumps the project generates (the example factory's CT and MR studies with
their reports, the shipped example, pydicom's own test files as Google exports them)
are mutated structurally — values replaced by any JSON, keys dropped or added, VRs
swapped, strings padded, lengthened or given control characters, instances duplicated,
dropped or given each other's UIDs — or as bytes (truncated, spliced, an escaped lone
surrogate), and posted to /v1/dumps.
Queries: every GET route of the url_map, filled with stored UIDs, gets a query string
of the parameters the OpenAPI document names, DICOM keywords and tags, and junk, with
values from dates and UIDs to 2**80 and invalid percent-escapes.

Properties: nothing answers 5xx; a 4xx is a problem+json body and leaves the store
byte-for-byte unchanged; an accepted dump reads back (each instance's DICOMweb metadata).
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pydicom
import yaml
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st
from pydicom.data import get_testdata_file
from pydicom.datadict import keyword_dict

from service.examples.factory import (
    load_example_dump,
    make_dump,
    make_studies,
    make_study,
    to_google_json,
)
from service.examples.spec import StudySpec
from tests.support.database import snapshot
from tests.support.routes import Route

REPO = Path(__file__).resolve().parents[2]
PROBLEM = "application/problem+json"
VRS = ("AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD",
       "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI",
       "UL", "UN", "UR", "US", "UT", "UV")
# pydicom test files with what real exports carry: deep sequences (RT plan and
# structure set), private tags, multi-frame and encapsulated pixel data.
PYDICOM_FILES = ("rtplan.dcm", "CT_small.dcm", "MR_small.dcm", "rtdose_rle.dcm",
                 "JPEG2000.dcm")
WELL_KNOWN_TAGS = ("0020000D", "0020000E", "00080018", "00100010", "00100020", "00080060",
                   "00080020", "00080030", "00200013", "00200011", "00280010", "00280011",
                   "00281052", "00281053", "7FE00010", "00081115", "0040A730", "00080005")


# -- seeds ---------------------------------------------------------------------------------

def seed_dumps(study_dump: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Real dumps to start from: `study_dump` and what the project and pydicom generate."""
    seeds = [study_dump, *make_studies(4, seed=5), load_example_dump()[:3],
             make_dump(make_study(StudySpec(seed=9, modality="MR", n_slices=2, rows=8,
                                            columns=8)))]
    with warnings.catch_warnings():
        # rtplan.dcm's referenced UID with a leading zero is the point, not a problem.
        warnings.simplefilter("ignore", UserWarning)
        for name in PYDICOM_FILES:  # all in pydicom's wheel: nothing is downloaded
            seeds.append([to_google_json(pydicom.dcmread(get_testdata_file(name)))])
    # Plain JSON types only (the factory leaves pydicom's UID strings in), as a client sends.
    return [orjson.loads(orjson.dumps(seed)) for seed in seeds]


# -- dump mutations --------------------------------------------------------------------------

_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
_AWKWARD = st.sampled_from(["", " ", "\x00", "\n", "\t", "\\", "^", "*", "?", "1.2.03.4",
                            "1.2.840.10008.1.2.1 ", "1.2.3\x00", "2024031200", "20241301",
                            "1e400", "NaN", "-0", "9" * 30, "Ω" * 70, "x" * 5000,
                            "SUMBERG^ANDREW^^MR.", "\u202e", "\ufeff", "%s%n"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False) | _TEXT | _AWKWARD,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["vr", "Value", "Alphabetic", "BulkDataURI",
                                       "InlineBinary", *WELL_KNOWN_TAGS]) | _TEXT,
                      children, max_size=4),
    max_leaves=12)
ELEMENTS = st.fixed_dictionaries(
    {"vr": st.sampled_from(VRS) | _TEXT},
    optional={"Value": st.lists(JSON_VALUES, max_size=3), "InlineBinary": _TEXT | _AWKWARD,
              "BulkDataURI": _TEXT})
TAGS = st.sampled_from(WELL_KNOWN_TAGS) | st.from_regex(r"\A[0-9A-Fa-f]{8}\Z") | _TEXT


def _locations(node: Any, path: tuple[Any, ...] = ()) -> Iterable[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _locations(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _locations(child, (*path, index))


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        root = root[step]
    return root


def _mutate_tree(draw: st.DrawFn, dump: list[Any]) -> None:
    """One structural mutation of `dump`, in place."""
    locations = [p for p in _locations(dump) if p]
    path = draw(st.sampled_from(locations))
    parent, last = _parent(dump, path), path[-1]
    target = parent[last]
    operation = draw(st.sampled_from(["replace", "delete", "add_element", "vr", "string",
                                      "instances"]))
    if operation == "replace":
        parent[last] = draw(JSON_VALUES)
    elif operation == "delete":
        del parent[last]
    elif operation == "add_element" and isinstance(target, dict):
        target[draw(TAGS)] = draw(ELEMENTS)
    elif operation == "vr" and isinstance(target, dict) and "vr" in target:
        target["vr"] = draw(st.sampled_from(VRS))
    elif operation == "string" and isinstance(target, str):
        how = draw(st.sampled_from(["pad", "prefix", "long", "control", "awkward"]))
        parent[last] = {
            "pad": lambda: target + draw(st.sampled_from([" ", "\x00", "\n", "  \x00"])),
            "prefix": lambda: draw(st.sampled_from(["0", " ", "\x00", "-", "+"])) + target,
            "long": lambda: target * draw(st.integers(2, 400)),
            "control": lambda: target[:1] + chr(draw(st.integers(0, 31))) + target[1:],
            "awkward": lambda: draw(_AWKWARD),
        }[how]()
    elif operation == "instances" and dump:
        index = draw(st.integers(0, len(dump) - 1))
        how = draw(st.sampled_from(["duplicate", "drop", "swap_uid", "not_an_object"]))
        if how == "duplicate":
            dump.insert(draw(st.integers(0, len(dump))), copy.deepcopy(dump[index]))
        elif how == "drop":
            del dump[index]
        elif how == "swap_uid" and isinstance(dump[index], dict):
            other = dump[draw(st.integers(0, len(dump) - 1))]
            key = draw(st.sampled_from(["0020000D", "0020000E", "00080018"]))
            if isinstance(other, dict) and key in other:
                dump[index][key] = copy.deepcopy(other[key])
        elif how == "not_an_object":
            dump[index] = draw(JSON_VALUES)


BYTE_MUTATIONS = ["truncate", "splice", "replace_byte", "wrap", "surrogate"]


def _mutate_bytes(draw: st.DrawFn, body: bytes, kinds: Sequence[str]) -> bytes:
    how = draw(st.sampled_from(kinds))
    at = draw(st.integers(0, max(len(body) - 1, 0)))
    if how == "truncate":
        return body[:at]
    if how == "splice":
        return body[:at] + draw(st.binary(max_size=16)) + body[at:]
    if how == "surrogate":  # "\ud800" escaped: valid JSON text, no valid string
        opening = draw(st.sampled_from([b'["', b'{"', b',"']))  # in a value or a key
        found = body.find(opening, at)
        if found < 0:
            return body
        return body[:found + 2] + draw(st.sampled_from([b"\\ud800", b"\\udfff"])) \
            + body[found + 2:]
    if how == "replace_byte" and body:
        return body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1:]
    depth = draw(st.integers(1, 12))  # a dump inside arrays or objects
    return b'{"a":' * depth + body + b"}" * depth if draw(st.booleans()) \
        else b"[" * depth + body + b"]" * depth


def mutated_dumps(seeds: Sequence[list[dict[str, Any]]],
                  byte_mutations: Sequence[str] = tuple(BYTE_MUTATIONS)
                  ) -> st.SearchStrategy[bytes]:
    """Bodies for POST /v1/dumps: a seed dump with 1–4 mutations, now and then in bytes.

    (The seeds stay out of the strategy's arguments: hypothesis would print them.)"""

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        dump = copy.deepcopy(seeds[draw(st.integers(0, len(seeds) - 1))])
        for _ in range(draw(st.integers(1, 4))):
            if dump:
                _mutate_tree(draw, dump)
        # json, not orjson: integers past 64 bits are part of the point.
        body = json.dumps(dump, ensure_ascii=draw(st.booleans()),
                          separators=(",", ":")).encode()
        if draw(st.integers(0, 9)) == 0:
            body = _mutate_bytes(draw, body, byte_mutations)
        return body

    return mutated()


# -- query strings --------------------------------------------------------------------------

def spec_parameters() -> list[str]:
    """Every query parameter name openapi.yaml declares, on any route."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("in") == "query" and isinstance(node.get("name"), str):
                names.add(node["name"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(yaml.safe_load((REPO / "openapi.yaml").read_text()))
    return sorted(names)


_KEYWORDS = sorted(keyword_dict)


def query_strings(parameters: Sequence[str], uids: Sequence[str]) -> st.SearchStrategy[str]:
    """Raw query strings (without '?'), percent-encoded or deliberately not."""
    names = (st.sampled_from(parameters) | st.sampled_from(_KEYWORDS)
             | st.from_regex(r"\A[0-9A-Fa-f]{8}(\.[0-9A-Fa-f]{8}){0,2}\Z")
             | st.sampled_from(["PatientName", "InstanceNumber", "00200013", "StudyDate",
                                "includefield", "limit", "offset", ""]) | _TEXT)
    values = (st.integers(min_value=-(2**80), max_value=2**80).map(str)
              | st.sampled_from([*uids, ",".join(uids), "20240101-20241231", "-20240101",
                                 "20240101-", "101500-", "*", "?", "A*", "all", "true",
                                 "maybe", "npy", "json", "png", "int16", "float32",
                                 "40,400", "0,0", "1,2,3", "1e400", "nan", "-inf", "0x10",
                                 "1_000", "١٢", " 7 "])
              | _AWKWARD | _TEXT)
    pair = st.tuples(names, values).map(lambda kv: f"{quote(kv[0])}={quote(kv[1])}")
    raw = st.sampled_from(["%", "%zz", "%ff%fe", "a=%00", "&&", "=", "==x", "a=b=c",
                           "%E2%82", "limit=1&limit=2", "+=+"])
    return st.lists(pair | raw, min_size=1, max_size=5).map("&".join)


# -- the properties --------------------------------------------------------------------------

@dataclass
class Tally:
    """What the fuzzing saw, for the long run's report."""

    examples: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def count(self, status: int) -> None:
        self.examples += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


@dataclass
class DumpProperty:
    """POST a body; check the three properties against the app's store."""

    app: Flask
    tally: Tally = field(default_factory=Tally)

    def __post_init__(self) -> None:
        self.client: FlaskClient = self.app.test_client()
        self.engine = self.app.extensions["engine"]

    def check(self, body: bytes) -> None:
        before = snapshot(self.engine)
        answer = self.client.post("/v1/dumps", data=body, content_type="application/json")
        self.tally.count(answer.status_code)
        assert answer.status_code < 500, (answer.status_code, answer.data[:500])
        if answer.status_code >= 400:
            assert answer.content_type == PROBLEM, answer.content_type
            assert snapshot(self.engine) == before, "a refused dump changed the store"
            return
        assert answer.status_code == 200
        self._reads_back(orjson.loads(body))

    def _reads_back(self, dump: list[dict[str, Any]]) -> None:
        # The last instance of a SOP Instance UID is the one stored (a dump may repeat it).
        by_uid = {_uid(instance, "00080018"): instance for instance in dump}
        for sop_uid, instance in by_uid.items():
            study, series = _uid(instance, "0020000D"), _uid(instance, "0020000E")
            url = (f"/dicomweb/studies/{study.strip(' ')}/series/{series.strip(' ')}"
                   f"/instances/{sop_uid.strip(' ')}/metadata")
            stored = self.client.get(url)
            assert stored.status_code == 200, (url, stored.status_code, stored.data[:300])
            [metadata] = stored.get_json()
            # Every attribute sent is there (values may be normalized: padding, URIs).
            assert set(instance) <= set(metadata), set(instance) - set(metadata)


def _uid(instance: dict[str, Any], key: str) -> str:
    return instance[key]["Value"][0].rstrip("\x00")


@dataclass
class QueryProperty:
    """GET a route with a query string: never 5xx; a 4xx is a problem."""

    app: Flask
    tally: Tally = field(default_factory=Tally)

    def __post_init__(self) -> None:
        self.client: FlaskClient = self.app.test_client()

    def check(self, route: Route, query: str) -> None:
        with self.client.get(f"{route.url}?{query}") as answer:  # closes streamed files
            self._check(route, query, answer)

    def _check(self, route: Route, query: str, answer: Any) -> None:
        self.tally.count(answer.status_code)
        assert answer.status_code < 500, (route.rule, query, answer.status_code,
                                          answer.data[:500])
        if answer.status_code >= 400:
            assert answer.content_type == PROBLEM, (route.rule, query, answer.content_type)


def route_uids(values: dict[str, object]) -> list[str]:
    return [str(values[name]) for name in ("study", "series", "instance")]

