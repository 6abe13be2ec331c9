"""Parsing and validating the DICOM JSON Model (PS3.18 F.2), against pydicom's reading."""

from __future__ import annotations

import orjson
import pydicom
import pytest

from service.dicom import json_model
from service.dicom.records import parse_dump

UIDS = {
    "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
    "0020000E": {"vr": "UI", "Value": ["1.2.3.4"]},
    "00080018": {"vr": "UI", "Value": ["1.2.3.4.5"]},
}


def _dump(**attributes: dict) -> bytes:
    return orjson.dumps([{**UIDS, **attributes}])


def _errors(body: bytes) -> list[tuple[int | None, str]]:
    return [(f.instance, f.path) for f in parse_dump(body).findings.errors]


@pytest.mark.parametrize(("body", "expected"), [
    (orjson.dumps({"x": 1}), [(0, "$[0].x")]),
    (orjson.dumps("text"), [(None, "$")]),
    (orjson.dumps([1]), [(0, "$[0]")]),
    (_dump(**{"00100010": {"Value": ["x"]}}), [(0, "$[0].00100010")]),
    (_dump(**{"00100010": {"vr": "XX", "Value": []}}), [(0, "$[0].00100010.vr")]),
    (_dump(**{"00100010": {"vr": "PN", "Value": {"Alphabetic": "A"}}}),
     [(0, "$[0].00100010.Value")]),
    (_dump(**{"00100010": {"vr": "PN", "Value": [{"Alphabet": "A"}]}}),
     [(0, "$[0].00100010.Value[0].Alphabet")]),
    (_dump(**{"00280010": {"vr": "US", "Value": ["512"]}}), [(0, "$[0].00280010.Value[0]")]),
    (_dump(**{"00280010": {"vr": "US", "Value": [70000]}}), [(0, "$[0].00280010.Value[0]")]),
    (_dump(**{"00280010": {"vr": "US", "Value": [True]}}), [(0, "$[0].00280010.Value[0]")]),
    (_dump(**{"00080060": {"vr": "CS", "Value": [5]}}), [(0, "$[0].00080060.Value[0]")]),
    (_dump(**{"00200013": {"vr": "IS", "Value": [1.5]}}), [(0, "$[0].00200013.Value[0]")]),
    (_dump(**{"00180050": {"vr": "DS", "Value": [[1]]}}), [(0, "$[0].00180050.Value[0]")]),
    (_dump(**{"00189306": {"vr": "FD", "Value": ["fast"]}}), [(0, "$[0].00189306.Value[0]")]),
    (_dump(**{"00209165": {"vr": "AT", "Value": ["0020"]}}), [(0, "$[0].00209165.Value[0]")]),
    (_dump(**{"00081140": {"vr": "SQ", "Value": ["item"]}}), [(0, "$[0].00081140.Value[0]")]),
    (_dump(**{"00081140": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": [5]}}]}}),
     [(0, "$[0].00081140.Value[0].00081150.Value[0]")]),
    (_dump(**{"7FE00010": {"vr": "OW", "Value": [1, 2]}}), [(0, "$[0].7FE00010.Value")]),
    (_dump(**{"7FE00010": {"vr": "OW", "BulkDataURI": 5}}), [(0, "$[0].7FE00010.BulkDataURI")]),
    (_dump(**{"00080018": {"vr": "UI", "Value": ["1." + "2" * 70]}}),
     [(0, "$[0].00080018.Value[0]")]),
    (orjson.dumps([{"0020000D": UIDS["0020000D"]}]),
     [(0, "$[0].0020000E"), (0, "$[0].00080018")]),
])
def test_invalid_input_is_located_by_json_path(body: bytes, expected: list) -> None:
    assert _errors(body) == expected


def test_not_json_raises_with_position() -> None:
    with pytest.raises(json_model.JsonSyntaxError) as raised:
        json_model.load_json(b'[{"00080018": ')
    assert raised.value.position is not None


def test_every_problem_of_every_instance_is_reported() -> None:
    good = {**UIDS}
    bad1 = {**UIDS, "00280010": {"vr": "US", "Value": ["x"]}}
    bad2 = {**UIDS, "00080060": {"vr": "CS", "Value": [1]}, "zz": {}}
    findings = parse_dump(orjson.dumps([good, bad1, bad2])).findings
    assert sorted((f.instance, f.path) for f in findings.errors) == [
        (1, "$[1].00280010.Value[0]"), (2, "$[2].00080060.Value[0]"), (2, "$[2].zz")]


def test_sequence_depth_is_bounded() -> None:
    item: dict = {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "A"}]}}
    for _ in range(30):
        item = {"00081140": {"vr": "SQ", "Value": [item]}}
    findings = parse_dump(orjson.dumps([{**UIDS, **item}]), max_depth=16).findings
    assert len(findings.errors) == 1
    assert "deeper than 16" in findings.errors[0].detail


def test_numbers_keep_their_text() -> None:
    body = _dump(**{"00281053": {"vr": "DS", "Value": [1.50]},
                    "00281052": {"vr": "DS", "Value": [-1024]},
                    "00209157": {"vr": "UV", "Value": [18446744073709551615]}})
    body = body.replace(b"1.5]", b"1.50]")
    parsed = parse_dump(body)
    assert not parsed.findings.errors
    stored = parsed.records[0].dicom_json
    assert b'"Value":[1.50]' in stored
    assert b"18446744073709551615" in stored
    # The normalized form has the number itself.
    assert parsed.records[0].attributes["RescaleSlope"] == 1.5


def test_big_integer_is_kept_exactly() -> None:
    text = b'[{"0020000D":{"vr":"UI","Value":["1.2"]},"0020000E":{"vr":"UI","Value":["1.3"]},' \
           b'"00080018":{"vr":"UI","Value":["1.4"]},"00180050":{"vr":"DS","Value":' \
           b'[123456789012345678901234]}}]'
    parsed = parse_dump(text)
    assert b"123456789012345678901234" in parsed.records[0].dicom_json


def test_special_floats_and_64_bit_strings() -> None:
    body = _dump(**{"00720074": {"vr": "FD", "Value": ["NaN", "Infinity", "-Infinity", 2.5]},
                    "00720083": {"vr": "UV", "Value": ["18446744073709551615", 7]}})
    parsed = parse_dump(body)
    assert not parsed.findings.errors
    attributes = parsed.records[0].attributes
    ds = pydicom.Dataset.from_json(orjson.loads(parsed.records[0].dicom_json))
    assert [str(v) for v in ds.SelectorFDValue] == ["nan", "inf", "-inf", "2.5"]
    # JSON has no NaN: the normalized form keeps the DICOM JSON spelling.
    assert attributes["SelectorFDValue"] == ["NaN", "Infinity", "-Infinity", 2.5]
    assert attributes["SelectorUVValue"] == [int(v) for v in ds.SelectorUVValue]


def test_lowercase_keys_and_group_length_are_warnings() -> None:
    body = orjson.dumps([{**UIDS, "7fe00010": {"vr": "OW", "BulkDataURI": "https://h/x"},
                          "00080000": {"vr": "UL", "Value": [12]}}])
    parsed = parse_dump(body)
    assert not parsed.findings.errors
    details = " ".join(f.detail for f in parsed.findings.warnings)
    assert "lower case" in details and "group length" in details
    assert parsed.records[0].attributes["PixelData"] == {"BulkDataURI": "https://h/x"}


def test_incomplete_pixel_module_is_flagged() -> None:
    body = _dump(**{"7FE00010": {"vr": "OW", "BulkDataURI": "https://h/x"},
                    "00280010": {"vr": "US", "Value": [512]}})
    record = parse_dump(body).records[0]
    assert "Columns" in record.pixel_module_missing and "Rows" not in record.pixel_module_missing


def test_pydicom_accepts_what_we_accept() -> None:
    """The same DICOM JSON reads in pydicom, and the values agree."""
    body = _dump(**{"00100010": {"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE"}]},
                    "00281053": {"vr": "DS", "Value": ["1.50"]},
                    "00200032": {"vr": "DS", "Value": [-1.5, 2, "3.25"]}})
    parsed = parse_dump(body)
    ds = pydicom.Dataset.from_json(orjson.loads(parsed.records[0].dicom_json))
    assert parsed.records[0].attributes["PatientName"] == str(ds.PatientName)
    assert parsed.records[0].attributes["RescaleSlope"] == float(ds.RescaleSlope)
    assert parsed.records[0].attributes["ImagePositionPatient"] == [
        float(v) for v in ds.ImagePositionPatient]


@pytest.mark.parametrize(("dataset", "expected"), [
    ({"00190010": {"vr": "LO", "Value": ["GEMS_ACQU_01 "]},
      "00191002": {"vr": "SL", "Value": [7]}}, {0x00190010: "GEMS_ACQU_01"}),
    ({"0043001f": {"vr": "LO", "Value": ["GEMS_PARM_01"]}}, {0x0043001F: "GEMS_PARM_01"}),
    ({"00190010": {"vr": "LO"}}, {}),  # a creator element without value names nothing
    ({"00100010": {"vr": "PN", "Value": [{"Alphabetic": "A"}]}}, {}),
    ({"00191000": {"vr": "LO", "Value": ["not a creator"]}}, {}),  # (0019,1000) is data
])
def test_private_creators(dataset: dict, expected: dict) -> None:
    assert json_model.private_creators(dataset) == expected


@pytest.mark.parametrize(("attribute", "expected"), [
    ({"vr": "CS", "Value": ["CT", "MR"]}, "CT"),
    ({"vr": "CS"}, None),
    ({"vr": "CS", "Value": []}, None),
    ({"vr": "CS", "Value": "CT"}, None),  # malformed: not an array
    ("CT", None),  # malformed: not an attribute object
])
def test_first_value(attribute: object, expected: object) -> None:
    assert json_model.first_value({"00080060": attribute}, "00080060") == expected
