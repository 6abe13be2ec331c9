"""The one-pass check (fast_path) agrees with the careful path: Validator + normalize_instance.

Whenever the one-pass check answers, the Validator finds nothing to report and
normalize_instance gives the same three views; on clean data it does answer.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson
import pydicom
import pytest
from pydicom.data import get_testdata_file

from service.dicom import json_model
from service.dicom.fast_path import normalize_valid
from service.dicom.normalize import normalize_instance
from service.examples.factory import make_ct_dump, make_studies

FILES = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "waveform_ecg.dcm", "JPEG2000.dcm",
         "ExplVR_BigEnd.dcm", "SC_rgb_small_odd.dcm", "examples_overlay.dcm", "nested_priv_SQ.dcm",
         "priv_SQ.dcm", "reportsi.dcm", "test-SR.dcm", "liver_1frame.dcm"]
MAX_DEPTH = 16


def _careful(instance: dict) -> tuple[json_model.Findings, tuple[dict, dict, dict] | None]:
    findings = json_model.Findings()
    canonical = json_model.Validator(findings, MAX_DEPTH).instance(copy.deepcopy(instance), 0)
    if findings.errors:
        return findings, None
    return findings, normalize_instance(canonical)


def _same(instance: dict, memo: dict | None = None) -> bool:
    """Checks the contract on one instance; True when the one-pass check answered.

    With `memo`, results of earlier attributes of the same tag may be reused: the tests
    that share one across instances check that only JSON-identical ones are.
    """
    fast = normalize_valid(copy.deepcopy(instance), MAX_DEPTH, memo)
    findings, careful = _careful(instance)
    if fast is None:
        return False
    assert not findings.errors and not findings.warnings, findings
    assert careful is not None
    # Compare serialized: numbers must agree in their text too.
    assert [json_model.dumps(view) for view in fast] == [json_model.dumps(view)
                                                         for view in careful]
    return True


def _bulk(_element: Any) -> str:
    return "https://healthcare.googleapis.com/v1/bulk"


@pytest.mark.parametrize("name", FILES)
def test_pydicom_files_take_the_one_pass_check(name: str) -> None:
    ds = pydicom.dcmread(get_testdata_file(name))
    # Through JSON, as ingest sees it (pydicom hands out str subclasses such as UID).
    instance = orjson.loads(orjson.dumps(ds.to_json_dict(bulk_data_threshold=256,
                                                         bulk_data_element_handler=_bulk)))
    assert _same(instance) or _careful(instance)[0].warnings


def test_generated_dumps_take_the_one_pass_check() -> None:
    instances = make_ct_dump(7, n_series=2, with_report=True) + [
        instance for study in make_studies(8) for instance in study]
    memo: dict = {}
    assert all(_same(instance) and _same(instance, memo) for instance in instances)


def _mutations(rng: random.Random) -> list:
    """Values that the Validator accepts, warns about or rejects, for every VR."""
    return [None, True, 1, 1.0, True, 0, -0.0, 0.0, -1, 70000, 2**40, 1.5, 2.0, 2,
            json_model.ExactFloat("1.50"), 1.5,
            "", " ", "x", "12", " 7 ", "1.5", "1e3", "NaN", "Infinity", "20240312",
            "101502.5", "1.2.3", "01.2", "1." + "2" * 70, "0020000d", "0020000D",
            {"Alphabetic": "A^B"}, {"Alphabet": "A"}, {"Alphabetic": 5}, [], [1],
            {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "A"}]}},
            {"00100010": {"vr": "PN", "Value": ["A"]}}, rng.random()]


def _mutate(instance: dict, rng: random.Random) -> dict:
    mutated = copy.deepcopy(instance)
    for _ in range(rng.randrange(1, 4)):
        key = rng.choice(list(mutated))
        attribute = mutated[key]
        if not isinstance(attribute, dict):
            continue
        choice = rng.randrange(9)
        if choice == 0:
            attribute["vr"] = rng.choice(sorted(json_model.ALL_VRS) + ["XX", 5, None])
        elif choice == 1 and isinstance(attribute.get("Value"), list):
            values = attribute["Value"]
            values.append(rng.choice(_mutations(rng)))
        elif choice == 2:
            attribute["Value"] = [rng.choice(_mutations(rng))]
        elif choice == 3:
            mutated[key.lower()] = mutated.pop(key)
        elif choice == 4:
            attribute[rng.choice(["BulkDataURI", "InlineBinary", "Other"])] = \
                rng.choice(["https://h/x", 5])
        elif choice == 5:
            attribute.pop(rng.choice(["vr", "Value"]), None)
        elif choice == 6:
            mutated[rng.choice(["00190000", "zz", "0019101X", "00291010", "00291110"])] = \
                copy.deepcopy(attribute)
        elif choice == 7:
            mutated[key] = rng.choice(_mutations(rng))
        else:
            attribute["Value"] = []
    return mutated


@pytest.mark.parametrize("vr", sorted(json_model.ALL_VRS) + ["XX"])
def test_every_vr_and_kind_of_value(vr: str) -> None:
    rng = random.Random(vr)
    # A public tag of VM 1, one of VM 1-n, an unknown public tag, a named private tag.
    keys = ["00180050", "00200032", "00091001", "00191002"]
    answered = 0
    memo: dict = {}  # shared: 1, 1.0, true and "1" follow one another under one tag
    for shape in ([None], [None, None], []):
        for value in _mutations(rng):
            values = [value for _ in shape]
            for key in keys:
                instance = {"00190010": {"vr": "LO", "Value": ["GEMS_ACQU_01"]},
                            key: {"vr": vr, "Value": copy.deepcopy(values)}}
                answered += _same(instance)
                answered += _same(instance, memo)
    assert answered or vr in json_model.BINARY_VRS or vr == "XX"


@pytest.mark.parametrize("attribute", [
    {"vr": "OB", "BulkDataURI": "https://h/x"}, {"vr": "OB", "InlineBinary": "AAAA"},
    {"vr": "OB", "BulkDataURI": 5}, {"vr": "OB", "InlineBinary": None},
    {"vr": "OB", "BulkDataURI": "https://h/x", "InlineBinary": "AAAA"},
    {"vr": "OB", "BulkDataURI": "https://h/x", "Value": []}, {"vr": "CS"},
    {"vr": "CS", "Value": None}, {"vr": "CS", "Value": "CT"}, {"vr": "CS", "Other": 1},
    {"vr": "CS", "Value": ["CT"], "Other": 1}, {"Value": ["CT"]}, {"vr": ["CS"], "Value": []},
    {"vr": None, "Value": ["CT"]}, {}, [], "CT", None,
    {"vr": "SQ", "Value": [{"0008103e": {"vr": "LO", "Value": ["x"]}}]},
    {"vr": "SQ", "Value": [{"00080000": {"vr": "UL", "Value": [4]}}]},
    {"vr": "SQ", "Value": [{"00190010": {"vr": "LO", "Value": [" GEMS_ACQU_01 "]},
                            "00191002": {"vr": "SL", "Value": [7]}}]},
])
@pytest.mark.parametrize("key", ["00081140", "0008103e", "00080000", "zz", "00190000",
                                 "00191002", "00190010", "00290010", "00091001"])
def test_every_attribute_shape(attribute: Any, key: str) -> None:
    _same({"00190010": {"vr": "LO", "Value": ["GEMS_ACQU_01"]}, key: copy.deepcopy(attribute)})


def test_mutated_instances_agree_or_take_the_careful_path() -> None:
    rng = random.Random(20240312)
    # A quarter of each instance's attributes (sequences and private creators kept) is
    # enough variety and keeps the deep copies cheap.
    base = [{key: attribute for position, (key, attribute) in enumerate(instance.items())
             if position % 4 == 0 or attribute["vr"] == "SQ" or key[4:6] == "00"}
            for instance in make_ct_dump(2, with_report=True)]
    pydicom_base = orjson.loads(orjson.dumps(
        pydicom.dcmread(get_testdata_file("rtplan.dcm")).to_json_dict()))
    answered = 0
    memo: dict = {}
    for _ in range(300):
        instance = _mutate(rng.choice([*base, pydicom_base]), rng)
        answered += _same(instance)
        answered += _same(instance, memo)
    assert answered > 0  # some mutations are harmless and stay on the one-pass check


def test_sequence_depth_is_left_to_the_careful_path() -> None:
    item: dict = {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "A"}]}}
    for _ in range(MAX_DEPTH + 1):
        item = {"00081140": {"vr": "SQ", "Value": [item]}}
    assert normalize_valid(item, MAX_DEPTH) is None
    assert _careful(item)[0].errors


def test_private_element_before_its_creator_is_named() -> None:
    instance = {"00191002": {"vr": "SL", "Value": [7]},
                "00190010": {"vr": "LO", "Value": ["GEMS_ACQU_01 "]},
                "00191003": {"vr": "SL", "Value": [8, 9]}}
    memo: dict = {}
    assert _same(instance) and _same(instance, memo) and _same(instance, memo)
    attributes, _study, _series = normalize_valid(instance, MAX_DEPTH)
    assert [(entry["tag"], entry["creator"]) for entry in attributes["private"]] == [
        ("00191002", "GEMS_ACQU_01"), ("00190010", None), ("00191003", "GEMS_ACQU_01")]


def test_a_remembered_private_attribute_keeps_its_own_creator() -> None:
    memo: dict = {}
    for creator in ("GEMS_ACQU_01", "GEMS_ACQU_01", "SIEMENS CT VA0  COAD", "GEMS_ACQU_01"):
        instance = {"00190010": {"vr": "LO", "Value": [creator]},
                    "00191002": {"vr": "SL", "Value": [7]}}
        assert _same(instance, memo)
        attributes, _study, _series = normalize_valid(instance, MAX_DEPTH, memo)
        assert attributes["private"][1]["creator"] == creator


def test_an_attribute_naming_a_key_twice_is_never_taken_from_the_memo() -> None:
    # Written out, {"vr": "CS", "vr": "CS", "Value": ["CT"]} reads like the remembered
    # attribute of the instance before; it must still go to the Validator, which refuses it.
    first = {"00080060": {"vr": "CS", "Value": ["CT"]}, "00080070": {"vr": "LO", "Value": ["A"]}}
    second = json_model.load_exact(
        b'{"00080060": {"vr": "CS", "vr": "CS", "Value": ["CT"]},'
        b' "00080070": {"vr": "LO", "Value": ["B"]}}')
    memo: dict = {}
    assert normalize_valid(first, MAX_DEPTH, memo) is not None
    assert normalize_valid(second, MAX_DEPTH, memo) is None
    assert _careful(second)[0].errors
