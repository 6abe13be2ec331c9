"""build_report against pydicom's reading of the same SR dataset."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import orjson
import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, EnhancedSRStorage, generate_uid
from pydicom.valuerep import DA, DT, TM

from service.dicom.json_model import Findings, Validator, load_json
from service.dicom.report import MAX_CONTENT_DEPTH, build_report, is_sr

from .conftest import container, content_item, sr_dataset, text


def as_dump_instance(ds: Dataset) -> dict:
    """The dataset as a dump carries it: to_json_dict, serialized, parsed, validated."""
    instance = load_json(orjson.dumps(ds.to_json_dict()))
    findings = Findings()
    instance = Validator(findings).instance(instance, 0)
    assert findings.errors == []
    return instance


def pydicom_code(sequence: Sequence | None) -> dict | None:
    if not sequence:
        return None
    item = sequence[0]
    return {"code_value": item.CodeValue, "coding_scheme": item.CodingSchemeDesignator,
            "code_meaning": item.CodeMeaning}


def pydicom_value(item: Dataset) -> Any:
    value_type = item.get("ValueType")
    if value_type == "TEXT":
        return item.TextValue
    if value_type == "CODE":
        return pydicom_code(item.ConceptCodeSequence)
    if value_type == "NUM":
        measured = item.MeasuredValueSequence[0]
        return {"value": float(measured.NumericValue),
                "unit": pydicom_code(measured.MeasurementUnitsCodeSequence)}
    if value_type == "DATE":
        return DA(item.Date).isoformat()
    if value_type == "PNAME":
        return str(item.PersonName)
    if value_type == "UIDREF":
        return str(item.UID)
    return None


def pydicom_tree(item: Dataset) -> dict:
    node = {
        "relationship": item.get("RelationshipType"),
        "value_type": item.get("ValueType"),
        "concept": pydicom_code(item.get("ConceptNameCodeSequence")),
        "value": pydicom_value(item),
    }
    if node["value_type"] == "CONTAINER":
        node["continuity"] = item.get("ContinuityOfContent")
    node["children"] = [pydicom_tree(child) for child in item.get("ContentSequence", [])]
    return node


def pydicom_text(ds: Dataset) -> str:
    """The narrative rule of report.py, applied to pydicom's reading of the dataset."""
    lines: list[str] = []
    state = {"last": None}

    def heading(title: str) -> None:
        if lines:
            lines.append("")
        lines.append(title)
        state["last"] = title

    def walk(item: Dataset, depth: int, in_section: bool) -> None:
        meaning = (item.ConceptNameCodeSequence[0].CodeMeaning
                   if item.get("ConceptNameCodeSequence") else None)
        if item.get("ValueType") == "CONTAINER" and depth > 0 and meaning:
            heading(meaning)
            in_section = True
        elif item.get("ValueType") == "TEXT":
            if not in_section and meaning and meaning != state["last"]:
                heading(meaning)
            lines.append(item.TextValue.rstrip())
        for child in item.get("ContentSequence", []):
            walk(child, depth + 1, in_section)

    walk(ds, 0, False)
    return "\n".join(lines)


@pytest.mark.parametrize("fixture", ["radiology_sr", "basic_text_sr"])
def test_report_matches_pydicom(fixture: str, request: pytest.FixtureRequest) -> None:
    ds: Dataset = request.getfixturevalue(fixture)
    report = build_report(as_dump_instance(ds))

    assert report["SOPInstanceUID"] == ds.SOPInstanceUID
    assert report["SeriesInstanceUID"] == ds.SeriesInstanceUID
    assert report["SOPClassUID"] == ds.SOPClassUID
    assert report["CompletionFlag"] == ds.CompletionFlag
    assert report["VerificationFlag"] == ds.VerificationFlag
    assert report["ContentDate"] == DA(ds.ContentDate).isoformat()
    assert dt.time.fromisoformat(report["ContentTime"]) == TM(ds.ContentTime)
    assert report["title"] == ds.ConceptNameCodeSequence[0].CodeMeaning
    assert report["text"] == pydicom_text(ds)
    assert report["content"] == pydicom_tree(ds)
    assert report["problems"] == []
    # The answer is plain JSON (it is what an API would send).
    assert orjson.loads(orjson.dumps(report)) == report


def test_observers_match_pydicom(radiology_sr: Dataset) -> None:
    observers = build_report(as_dump_instance(radiology_sr))["observer"]
    verifier = radiology_sr.VerifyingObserverSequence[0]
    when = DT(verifier.VerificationDateTime)
    assert observers["verifying"] == [{
        "name": str(verifier.VerifyingObserverName),
        "organization": verifier.VerifyingOrganization,
        "datetime": when.isoformat(),
    }]
    author = radiology_sr.AuthorObserverSequence[0]
    assert observers["author"] == [{"name": str(author.PersonName),
                                    "organization": author.InstitutionName,
                                    "datetime": None, "type": author.ObserverType}]


def test_text_has_sections_in_document_order(radiology_sr: Dataset) -> None:
    report = build_report(as_dump_instance(radiology_sr))
    paragraphs = report["text"].split("\n\n")
    findings = radiology_sr.ContentSequence[0]
    impression = radiology_sr.ContentSequence[1]
    assert paragraphs[0].splitlines()[0] == findings.ConceptNameCodeSequence[0].CodeMeaning
    assert paragraphs[0].splitlines()[1:] == (findings.ContentSequence[0].TextValue.splitlines()
                                              + [findings.ContentSequence[1].TextValue])
    assert paragraphs[-1].splitlines() == [impression.ConceptNameCodeSequence[0].CodeMeaning,
                                           impression.ContentSequence[0].TextValue]


def test_num_value_keeps_decimal(radiology_sr: Dataset) -> None:
    report = build_report(as_dump_instance(radiology_sr))
    num = report["content"]["children"][0]["children"][2]
    measured = radiology_sr.ContentSequence[0].ContentSequence[2].MeasuredValueSequence[0]
    assert num["value_type"] == "NUM"
    assert num["value"]["value"] == float(measured.NumericValue)
    assert num["value"]["unit"]["code_value"] == measured.MeasurementUnitsCodeSequence[0].CodeValue


def test_missing_value_type_is_reported_not_raised(radiology_sr: Dataset) -> None:
    broken = radiology_sr.ContentSequence[0].ContentSequence[1]
    del broken.ValueType
    report = build_report(as_dump_instance(radiology_sr))
    node = report["content"]["children"][0]["children"][1]
    assert node["value_type"] is None and node["value"] is None
    assert node["concept"] == pydicom_code(broken.ConceptNameCodeSequence)
    assert report["problems"] == [{"path": "content.children[0].children[1]",
                                   "detail": "content item without ValueType"}]
    # The item without a type contributes no text; the others still do.
    assert broken.TextValue not in report["text"]
    assert radiology_sr.ContentSequence[1].ContentSequence[0].TextValue in report["text"]


def test_too_deep_tree_is_cut_with_a_problem() -> None:
    leaf = text(("121071", "DCM", "Finding"), "deepest")
    node = leaf
    for _ in range(MAX_CONTENT_DEPTH + 5):
        node = container(("121070", "DCM", "Findings"), [node])
    ds = sr_dataset([node])
    instance = ds.to_json_dict()  # deeper than the Validator allows: build_report alone
    report = build_report(instance)
    depth, cursor = 0, report["content"]
    while cursor["children"]:
        cursor, depth = cursor["children"][0], depth + 1
    assert depth == MAX_CONTENT_DEPTH
    assert "deepest" not in report["text"]
    assert len(report["problems"]) == 1 and "deeper than" in report["problems"][0]["detail"]


@pytest.mark.parametrize("instance", [
    {},
    {"0040A730": {"vr": "SQ"}},
    {"0040A730": {"vr": "SQ", "Value": [None, 3, "x"]}},
    {"0040A040": {"vr": "CS", "Value": [7]}, "0040A043": {"vr": "SQ", "Value": [{}]}},
    {"0040A730": {"vr": "SQ", "Value": [{"0040A040": {"vr": "CS", "Value": ["NUM"]},
                                          "0040A300": {"vr": "SQ", "Value": [{}]}}]}},
])
def test_malformed_instances_do_not_crash(instance: dict) -> None:
    report = build_report(copy.deepcopy(instance))
    assert report["text"] == ""
    assert report["content"]["value_type"] is None
    assert {"path": "content", "detail": "content item without ValueType"} in report["problems"]


def test_is_sr_by_sop_class_and_modality(radiology_sr: Dataset) -> None:
    assert is_sr(as_dump_instance(radiology_sr))
    enhanced = Dataset()
    enhanced.SOPClassUID = EnhancedSRStorage
    assert is_sr(enhanced.to_json_dict())
    by_modality = Dataset()
    by_modality.Modality = "SR"
    assert is_sr(by_modality.to_json_dict())
    ct = Dataset()
    ct.SOPClassUID = CTImageStorage
    ct.Modality = "CT"
    ct.SOPInstanceUID = generate_uid()
    assert not is_sr(ct.to_json_dict())
    assert not is_sr({})


def test_value_types_beyond_text(radiology_sr: Dataset) -> None:
    extra = [
        content_item("HAS OBS CONTEXT", "TIME", ("111061", "DCM", "Time"), Time="0930"),
        content_item("HAS OBS CONTEXT", "DATETIME", ("111062", "DCM", "DT"),
                     DateTime="20240312093000"),
    ]
    radiology_sr.ContentSequence.extend(extra)
    children = build_report(as_dump_instance(radiology_sr))["content"]["children"]
    assert dt.time.fromisoformat(children[-2]["value"]) == TM(extra[0].Time)
    assert children[-1]["value"] == DT(extra[1].DateTime).isoformat()
