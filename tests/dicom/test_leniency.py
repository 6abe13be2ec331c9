"""The pieces of the leniency policy (docs/ingest-policy.md), tested directly."""

from __future__ import annotations

import copy
import json

import orjson
import pytest

from service.dicom import json_model, uids
from service.dicom.fast_path import normalize_valid
from service.dicom.index_values import INDEX_TEXT_MAX, index_integer, index_text
from service.dicom.normalize import normalize_instance
from service.dicom.records import parse_dump

UIDS = {
    "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
    "0020000E": {"vr": "UI", "Value": ["1.2.3.4"]},
    "00080018": {"vr": "UI", "Value": ["1.2.3.4.5"]},
}


@pytest.mark.parametrize(("text", "conformant", "identifier"), [
    ("1.2.840.10008.1.2", True, True),
    ("0", True, True),
    ("1.2.0123.4", False, True),  # leading zero: a reference may, an identifier may
    ("01.2", False, True),
    ("1..2", False, False),
    ("1.2.", False, False),
    (".1", False, False),
    ("1.2a", False, False),
    ("1." * 32 + "1", False, False),  # 65 characters
    ("1.2 3", False, False),
    ("1.2.3\n", False, False),  # "$" in a regex would let the newline through
    ("", False, False),
])
def test_uid_rules(text: str, conformant: bool, identifier: bool) -> None:
    assert uids.is_conformant(text) is conformant
    assert uids.is_identifier(text) is identifier
    assert (uids.nonconformance(text) is None) is conformant


@pytest.mark.parametrize(("text", "problem"), [
    ("1.2.3", None), ("1.2.03", None), ("", "is empty"), ("1.2\n3", "control character"),
    ("1.2\x003", "control character"), ("1.2\x85", "control character"),
    ("1.2.3x", "digits"), ("1" * 65, "longer than 64"),
])
def test_identifier_problems(text: str, problem: str | None) -> None:
    found = uids.identifier_problem(text)
    assert found is None if problem is None else problem in found


def test_a_key_with_a_final_newline_is_no_tag() -> None:
    body = orjson.dumps([{**UIDS, "00081030\n": {"vr": "LO", "Value": ["x"]}}])
    assert [f.path for f in parse_dump(body).findings.errors] == ["$[0].00081030\n"]


def test_padding_is_trailing_space_and_nul_only() -> None:
    assert uids.unpadded("1.2.3 \x00 ") == "1.2.3"
    assert uids.unpadded(" 1.2.3") == " 1.2.3"
    assert uids.unpadded("1.2.3\n") == "1.2.3\n"
    assert "padding" in uids.nonconformance("1.2.3\x00")


# Texts that name a key twice in one object: may_repeat_keys must never answer False.
REPEATED = [
    '{"a":1,"a":2}',
    '{"a": 1, "b": {"c": [1, 2], "c": 3}}',
    '{\n  "a": "x:y",\n  "a": "\\":"\n}',
    '[{"k":":","k":" :"}]',
    '{"\\u0061":1,"a":2}',
    '{"a":"\\u003a","a":"\\u0022:"}',
    '{"x\\\\":1,"x\\\\":2}',
    '{"a":[{"b":"\\\\","b":"\\\\\\""}]}',
]
# Texts without: may_repeat_keys may answer True (the careful parser then runs), but it
# must answer False for compact text and for text that only differs in whitespace.
UNIQUE = [
    '{"a":1,"b":2}',
    '{"a": 1, "b": 2}',
    '[\n {"a": ":", "b": " :", "c": "\\":"}\n]',
    '{"x\\\\": "y", "z": "\\\\"}',
]


@pytest.mark.parametrize("text", REPEATED)
def test_repeated_keys_are_never_missed(text: str) -> None:
    data = text.encode()
    assert json_model.may_repeat_keys(data, orjson.dumps(orjson.loads(data)))


@pytest.mark.parametrize("text", UNIQUE)
def test_unique_keys_take_the_fast_answer(text: str) -> None:
    data = text.encode()
    assert not json_model.may_repeat_keys(data, orjson.dumps(orjson.loads(data)))


@pytest.mark.parametrize("text", REPEATED)
def test_the_careful_parser_marks_repeated_keys(text: str) -> None:
    def marked(value: object) -> bool:
        if isinstance(value, json_model.DuplicateKeyObject):
            return True
        if isinstance(value, dict):
            return any(marked(v) for v in value.values())
        return isinstance(value, list) and any(marked(v) for v in value)

    parsed = json_model.load_exact(text.encode())
    assert marked(parsed)
    assert parsed == json.loads(text)  # the last value, as every JSON parser keeps it


def test_unwritable_names_surrogates_and_depth() -> None:
    assert json_model.unwritable({"a": ["ok", "\ud800"]}, "$") == (
        "$.a[1]", "string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff)")
    assert json_model.unwritable({"\udc00": 1}, "$")[1].startswith("key holds")
    deep: list = []
    for _ in range(json_model.MAX_JSON_DEPTH + 5):
        deep = [deep]
    path, detail = json_model.unwritable(deep, "$")
    assert detail == json_model.TOO_DEEP and path == "$" + "[0]" * json_model.MAX_JSON_DEPTH
    assert json_model.unwritable({"a": ["\U0001F600", [[1]]]}, "$") is None


# Lenient values: the one-pass check declines them, the careful path warns (never
# errs), and the normalized form is what the policy says.
LENIENT = [
    ("00081155", {"vr": "UI", "Value": ["1.2.0123"]}, "leading zeros", "1.2.0123"),
    ("00081155", {"vr": "UI", "Value": ["1.2.3\x00"]}, "padding", "1.2.3"),
    ("00081155", {"vr": "UI", "Value": ["1.2.3 "]}, "padding", "1.2.3"),
    ("00100020", {"vr": "LO", "Value": ["x" * 65]}, "longer than 64", "x" * 65),
    ("00080060", {"vr": "CS", "Value": ["C" * 17]}, "longer than 16", "C" * 17),
    ("00080020", {"vr": "DA", "Value": ["2024031200"]}, "longer than 8", "2024031200"),
    ("00080030", {"vr": "TM", "Value": ["101502.1234567890"]}, "longer than 14",
     "101502.1234567890"),
    ("00100010", {"vr": "PN", "Value": [{"Alphabetic": "N" * 65}]}, "longer than 64",
     "N" * 65),
    ("00200013", {"vr": "IS", "Value": ["twelve"]}, "not an integer", "twelve"),
    ("00200013", {"vr": "IS", "Value": ["1234567890123"]}, "longer than 12", 1234567890123),
    ("00281053", {"vr": "DS", "Value": ["1e400"]}, "64-bit float", "1e400"),
    ("00281053", {"vr": "DS", "Value": ["1.00000000000000000"]}, "longer than 16", 1.0),
]


@pytest.mark.parametrize(("key", "attribute", "detail", "normalized"), LENIENT,
                         ids=[f"{k}-{a['vr']}-{d}" for k, a, d, _ in LENIENT])
def test_lenient_values_warn_and_keep(key: str, attribute: dict, detail: str,
                                      normalized: object) -> None:
    instance = {**copy.deepcopy(UIDS), key: attribute}
    assert normalize_valid(copy.deepcopy(instance), 16) is None
    findings = json_model.Findings()
    canonical = json_model.Validator(findings, 16).instance(instance, 0)
    assert not findings.errors
    assert [f.path for f in findings.warnings] == [
        f"$[0].{key}.Value[0]" + (".Alphabetic" if attribute["vr"] == "PN" else "")]
    assert detail in findings.warnings[0].detail
    attributes = normalize_instance(canonical)[0]
    value = next(v for k, v in attributes.items() if k not in ("StudyInstanceUID",
                                                              "SeriesInstanceUID",
                                                              "SOPInstanceUID"))
    assert value == normalized


def test_values_within_their_length_take_the_one_pass_check() -> None:
    instance = {**UIDS, "00100020": {"vr": "LO", "Value": ["x" * 64]},
                "00080060": {"vr": "CS", "Value": ["C" * 16]},
                "00100010": {"vr": "PN", "Value": [{"Alphabetic": "N" * 64}]},
                "00281053": {"vr": "DS", "Value": ["1.00000000000000"]}}
    assert normalize_valid(copy.deepcopy(instance), 16) is not None


def test_max_lengths_are_pydicoms_where_it_has_them() -> None:
    from pydicom.valuerep import MAX_VALUE_LEN

    assert {vr: json_model.MAX_LENGTHS[vr] for vr in MAX_VALUE_LEN} == MAX_VALUE_LEN


def test_identifying_uid_padding_is_removed_from_the_stored_json() -> None:
    body = orjson.dumps([{**UIDS, "00080018": {"vr": "UI", "Value": ["1.2.3.4.5\x00"]}}])
    parsed = parse_dump(body)
    assert not parsed.findings.errors
    record = parsed.records[0]
    assert record.sop_uid == "1.2.3.4.5"
    assert orjson.loads(record.dicom_json)["00080018"]["Value"] == ["1.2.3.4.5"]


def test_index_values_fit_both_back_ends() -> None:
    assert index_text("A\x00B") == "AB"
    assert index_text("\x00") is None
    assert index_text("x" * 1000) == "x" * INDEX_TEXT_MAX
    assert index_integer(2**31 - 1) == 2**31 - 1 and index_integer(2**31) is None
    assert index_integer(-(2**31)) == -(2**31) and index_integer(-(2**31) - 1) is None
