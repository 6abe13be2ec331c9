"""Reading a dump one instance at a time gives what parsing it whole gives."""

from __future__ import annotations

import json

import orjson
import pytest

from service.dicom import json_model
from service.dicom.records import parse_dump
from service.dicom.stream import NotStreamable, iter_instances

UIDS = {
    "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
    "0020000E": {"vr": "UI", "Value": ["1.2.3.4"]},
}


def _instance(number: int, **extra: dict) -> dict:
    return {**UIDS, "00080018": {"vr": "UI", "Value": [f"1.2.3.4.{number}"]}, **extra}


TRICKY = [
    _instance(1),
    # Sequence items make "},{" and "}]" inside an instance; strings hold them too.
    _instance(2, **{"00081140": {"vr": "SQ", "Value": [
        {"00081150": {"vr": "UI", "Value": ["1.2"]}}, {"00081150": {"vr": "UI", "Value": ["1.3"]}},
        {"00081155": {"vr": "UI", "Value": ["1.4"]}}]},
        "00081030": {"vr": "LO", "Value": ['a"},{"b', "}]", "},{"]}}),
    # Non-ASCII text: orjson reports positions in characters, not bytes.
    _instance(3, **{"00100010": {"vr": "PN", "Value": [{"Alphabetic": "MÜLLER^ŻANETA^中"}]},
                    "00081140": {"vr": "SQ", "Value": [{}, {}, {}]}}),
    _instance(4, **{"00281053": {"vr": "DS", "Value": [1]}}),
]


def _bodies() -> list[bytes]:
    compact = orjson.dumps(TRICKY)
    return [
        compact,
        orjson.dumps(TRICKY, option=orjson.OPT_INDENT_2),
        json.dumps(TRICKY).encode(),  # ", " and ": " separators, \u escapes
        json.dumps(TRICKY, indent="\t", ensure_ascii=False).encode(),
        b" \n[ " + compact[1:-1] + b" ]\n",
    ]


@pytest.mark.parametrize("body", _bodies())
def test_instances_are_those_of_the_whole_document(body: bytes) -> None:
    read = list(iter_instances(body))
    assert [instance for instance, _ in read] == orjson.loads(body)
    for instance, compact in read:
        assert compact is None or compact == orjson.dumps(instance)


def test_numbers_that_need_their_text_are_parsed_exactly() -> None:
    body = orjson.dumps([_instance(1, **{"00281053": {"vr": "DS", "Value": [0]}}), _instance(2)])
    body = body.replace(b"[0]", b"[1.50]")
    (first, first_compact), (second, second_compact) = iter_instances(body)
    assert first_compact is None and json_model.dumps(first).count(b"1.50") == 1
    assert second_compact == orjson.dumps(second)


@pytest.mark.parametrize("body", [
    b"{}", b'"x"', b"[1]", b"[{}, 1]", b"[{}] x", b"[{}", b'[{"a": 1}, {"b": ',
    b"[{},]", b"[{}{}]", b'[{"a": NaN}]', b"\xff",
])
def test_other_bodies_are_left_to_the_whole_parser(body: bytes) -> None:
    with pytest.raises(NotStreamable):
        list(iter_instances(body))


def test_empty_array() -> None:
    assert list(iter_instances(b" [ ] ")) == []


@pytest.mark.parametrize("body", _bodies())
def test_parse_dump_gives_the_same_records_from_any_layout(body: bytes) -> None:
    expected = parse_dump(orjson.dumps(TRICKY))
    parsed = parse_dump(body)
    assert [r.dicom_json for r in parsed.records] == [r.dicom_json for r in expected.records]
    assert [r.attributes_json for r in parsed.records] == [
        r.attributes_json for r in expected.records]


def test_a_body_that_is_not_an_array_still_reports_as_before() -> None:
    findings = parse_dump(b'[{"0020000D": {"vr": "UI", "Value": ["1.2"]}}, 5]').findings
    assert [(f.instance, f.path) for f in findings.errors] == [
        (1, "$[1]"), (0, "$[0].0020000E"), (0, "$[0].00080018")]
    with pytest.raises(json_model.JsonSyntaxError):
        parse_dump(b'[{"0020000D": {"vr": "UI", "Value": ["1.2"]}}, {"a": ')
