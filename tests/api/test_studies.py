"""Searching and reading studies, series, instances and reports."""

from __future__ import annotations

import random

import orjson
import pydicom
import pytest

from service.examples.factory import StudySpec, make_dump, make_study
from tests.api.conftest import post_dump

SPECS = [
    StudySpec(seed=21, patient_name="SUMBERG^ANDREW^^MR.", patient_id="PAT-A",
              study_date="20240312", accession_number="ACC-A"),
    StudySpec(seed=22, patient_name="Sumner^Beth", patient_id="PAT-B",
              study_date="20230101", accession_number="ACC-B", with_report=False),
    StudySpec(seed=23, patient_name="DOE^JANE", patient_id="PAT-C",
              study_date="20250630", accession_number="ACC-C"),
]


@pytest.fixture
def studies(client) -> dict[str, list[pydicom.Dataset]]:
    stored = {}
    for spec in SPECS:
        datasets = make_study(StudySpec(**{**spec.__dict__, "n_slices": 3, "rows": 32,
                                           "columns": 32}))
        assert post_dump(client, orjson.dumps(make_dump(datasets))).status_code == 200
        stored[spec.patient_id] = datasets
    return stored


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["PatientID"] for item in response.get_json()["items"]]


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["PAT-B", "PAT-A", "PAT-C"]),  # ordered by StudyDate
    ("PatientID=PAT-A", ["PAT-A"]),
    ("PatientName=sum*", ["PAT-B", "PAT-A"]),
    ("PatientName=SUMBERG^ANDREW^^MR.", ["PAT-A"]),
    ("PatientName=D?E*", ["PAT-C"]),
    ("PatientName=%25", []),  # a literal % is not a wildcard
    ("StudyDate=20240312", ["PAT-A"]),
    ("StudyDate=2024-03-12", ["PAT-A"]),
    ("StudyDate=20240101-20251231", ["PAT-A", "PAT-C"]),
    ("StudyDate=20240101-", ["PAT-A", "PAT-C"]),
    ("StudyDate=-20240101", ["PAT-B"]),
    ("AccessionNumber=ACC-C", ["PAT-C"]),
    ("ModalitiesInStudy=SR", ["PAT-A", "PAT-C"]),
    ("ModalitiesInStudy=MR,CT", ["PAT-B", "PAT-A", "PAT-C"]),
    ("limit=1&offset=1", ["PAT-A"]),
])
def test_study_filters(client, studies, query, expected) -> None:
    assert _ids(client.get(f"/v1/studies?{query}")) == expected


def test_filter_by_uid_list_and_page_envelope(client, studies) -> None:
    uids = [studies["PAT-A"][0].StudyInstanceUID, studies["PAT-C"][0].StudyInstanceUID]
    page = client.get(f"/v1/studies?StudyInstanceUID={','.join(uids)}&limit=1").get_json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (2, 1, 0, 1)


@pytest.mark.parametrize(("query", "parameter"), [
    ("StudyDate=2024", "StudyDate"), ("StudyDate=20250101-20240101", "StudyDate"),
    ("limit=0", "limit"), ("limit=1001", "limit"), ("offset=-1", "offset"),
    ("limit=ten", "limit"), ("StudyInstanceUID=1.2.abc", "StudyInstanceUID"),
    ("Colour=blue", "Colour"),
])
def test_bad_filters_name_the_parameter(client, query, parameter) -> None:
    response = client.get(f"/v1/studies?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["parameter"] == parameter


def test_study_resource_matches_pydicom(client, studies) -> None:
    datasets = studies["PAT-A"]
    ds = datasets[-1]
    study = client.get(f"/v1/studies/{ds.StudyInstanceUID}").get_json()
    assert study["PatientName"] == str(ds.PatientName)
    assert study["PatientBirthDate"] == pydicom.valuerep.DA(ds.PatientBirthDate).isoformat()
    assert study["NumberOfStudyRelatedInstances"] == len(datasets)
    assert study["NumberOfStudyRelatedSeries"] == len({d.SeriesInstanceUID for d in datasets})
    assert study["ModalitiesInStudy"] == sorted({d.Modality for d in datasets})
    assert "Modality" not in study and "SOPInstanceUID" not in study


def test_series_and_instances(client, studies) -> None:
    datasets = [d for d in studies["PAT-A"] if d.Modality == "CT"]
    ct = datasets[0]
    base = f"/v1/studies/{ct.StudyInstanceUID}/series"
    listing = client.get(base).get_json()
    assert {s["SeriesInstanceUID"] for s in listing["items"]} == {
        d.SeriesInstanceUID for d in studies["PAT-A"]}
    series = client.get(f"{base}/{ct.SeriesInstanceUID}").get_json()
    assert series["Modality"] == "CT"
    assert series["NumberOfSeriesRelatedInstances"] == len(datasets)
    assert series["StudyInstanceUID"] == ct.StudyInstanceUID
    items = client.get(f"{base}/{ct.SeriesInstanceUID}/instances").get_json()["items"]
    expected = sorted(datasets, key=lambda d: (int(d.InstanceNumber), d.SOPInstanceUID))
    assert [i["SOPInstanceUID"] for i in items] == [d.SOPInstanceUID for d in expected]


def test_instances_order_survives_missing_and_duplicate_numbers(client) -> None:
    datasets = make_study(StudySpec(seed=31, n_slices=5, rows=16, columns=16, with_report=False))
    random.Random(1).shuffle(datasets)
    dump = make_dump(datasets)
    dump[0].pop("00200013", None)  # missing InstanceNumber
    dump[1]["00200013"] = {"vr": "IS", "Value": [1]}
    dump[2]["00200013"] = {"vr": "IS", "Value": [1]}  # duplicate
    assert post_dump(client, orjson.dumps(dump)).status_code == 200
    ds = datasets[0]
    items = client.get(f"/v1/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
                       f"/instances").get_json()["items"]
    assert len(items) == 5
    numbers = [i.get("InstanceNumber") for i in items]
    assert numbers[-1] is None  # missing numbers sort last
    assert numbers[:-1] == sorted(numbers[:-1])


def test_instance_views(client, studies) -> None:
    ds = studies["PAT-C"][2]
    url = (f"/v1/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/"
           f"{ds.SOPInstanceUID}")
    normalized = client.get(url).get_json()
    assert normalized["SOPInstanceUID"] == ds.SOPInstanceUID
    assert normalized["Rows"] == ds.Rows
    assert normalized["PixelSpacing"] == [float(v) for v in ds.PixelSpacing]
    assert normalized["PixelData"]["BulkDataURI"].endswith("/bulkdata/7FE00010")
    assert any(p["creator"] == "GEMS_ACQU_01" for p in normalized["private"])
    raw = client.get(url + "?view=dicom")
    assert raw.mimetype == "application/dicom+json"
    original = make_dump([ds])[0]
    assert orjson.loads(raw.get_data()) == original
    assert client.get(url + "?view=xml").status_code == 400


@pytest.mark.parametrize("path", [
    "/v1/studies/1.2.3.4.5", "/v1/studies/1.2.3/series", "/v1/studies/1.2.3/series/4.5",
    "/v1/studies/1.2.3/series/4.5/instances", "/v1/studies/1.2.3/series/4.5/instances/6.7",
    "/v1/studies/1.2.3/reports",
])
def test_unknown_uids_are_404(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("path", [
    "/v1/studies/abc", "/v1/studies/1.2.3/series/1..2", "/v1/studies/1.2a",
    "/v1/studies/" + "1." * 40 + "1",
])
def test_malformed_uids_are_400(client, path) -> None:
    assert client.get(path).status_code == 400


def test_delete_study_removes_everything_below(client, studies, engine) -> None:
    ds = studies["PAT-A"][0]
    assert client.delete(f"/v1/studies/{ds.StudyInstanceUID}").status_code == 204
    assert client.get(f"/v1/studies/{ds.StudyInstanceUID}").status_code == 404
    assert client.delete(f"/v1/studies/{ds.StudyInstanceUID}").status_code == 404
    from tests.support.database import snapshot
    rows = snapshot(engine)
    assert not any(ds.StudyInstanceUID in str(row) for row in rows["instances"] + rows["series"])
    assert _ids(client.get("/v1/studies")) == ["PAT-B", "PAT-C"]


def test_reports(client, studies) -> None:
    report_ds = studies["PAT-A"][0]
    assert report_ds.Modality == "SR"
    reports = client.get(f"/v1/studies/{report_ds.StudyInstanceUID}/reports").get_json()
    assert reports["total"] == 1
    report = reports["items"][0]
    assert report["SOPInstanceUID"] == report_ds.SOPInstanceUID
    assert report["CompletionFlag"] == report_ds.CompletionFlag
    assert report["VerificationFlag"] == report_ds.VerificationFlag
    texts = []

    def walk(items):
        for item in items:
            if item.ValueType == "TEXT":
                texts.append(item.TextValue)
            walk(getattr(item, "ContentSequence", []))
    walk(report_ds.ContentSequence)
    assert texts and all(text in report["text"] for text in texts)
    no_report = studies["PAT-B"][0]
    assert client.get(f"/v1/studies/{no_report.StudyInstanceUID}/reports").get_json()[
        "total"] == 0


@pytest.mark.parametrize(("path", "status", "keyword"), [
    ("/v1/tags/00180060", 200, "KVP"),
    ("/v1/tags/(0010,0010)", 200, "PatientName"),
    ("/v1/tags/PatientID", 200, "PatientID"),
    ("/v1/tags/00191002?creator=GEMS_ACQU_01", 200, None),
    ("/v1/tags/00191002", 404, None),
    ("/v1/tags/00191002?creator=NOBODY", 404, None),
    ("/v1/tags/00089999", 404, None),
    ("/v1/tags/12345", 400, None),
])
def test_tags(client, path, status, keyword) -> None:
    from pydicom.datadict import dictionary_description, get_private_entry
    response = client.get(path)
    assert response.status_code == status
    if status == 200:
        body = response.get_json()
        tag = int(body["tag"], 16)
        if keyword:
            assert body["keyword"] == keyword and body["name"] == dictionary_description(tag)
        else:
            assert body["name"] == get_private_entry(tag, "GEMS_ACQU_01")[2]
