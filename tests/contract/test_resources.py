"""Real answers of the resource routes, validated against openapi.yaml.

Each exchange goes through Contract.call (conftest.py), which fails the test when the
response is not one the document describes, or when the document's verdict on the
request disagrees with the test's. Values are compared against pydicom's reading of
the same datasets.
"""

from __future__ import annotations

import pytest

from tests.contract.conftest import Contract, Stored

UNKNOWN_UID = "1.2.3.4.5.6.7.8.9"


def test_search_studies(reader: Contract, uids: Stored) -> None:
    ct = uids.ct_instance
    page = reader.call("GET", "/v1/studies").get_json()
    assert page["total"] == 1
    study = page["items"][0]
    assert study["StudyInstanceUID"] == ct.StudyInstanceUID
    assert study["PatientID"] == ct.PatientID
    assert study["AccessionNumber"] == ct.AccessionNumber
    assert sorted(study["ModalitiesInStudy"]) == ["CT", "SR"]


@pytest.mark.parametrize("query", [
    {"PatientName": "SUMBERG*", "StudyDate": "20240101-20241231"},
    {"StudyDate": "-20241231", "ModalitiesInStudy": "CT,MR"},
    {"StudyDate": "2024-03-12", "limit": "1", "offset": "0"},
])
def test_search_studies_with_filters(reader: Contract, uids: Stored,
                                     query: dict[str, str]) -> None:
    page = reader.call("GET", "/v1/studies", query_string=query).get_json()
    assert [s["StudyInstanceUID"] for s in page["items"]] == [uids.study]


def test_search_studies_by_uid_list_and_empty_page(reader: Contract, uids: Stored) -> None:
    query = {"StudyInstanceUID": f"{UNKNOWN_UID},{uids.study}"}
    assert reader.call("GET", "/v1/studies", query_string=query).get_json()["total"] == 1
    empty = reader.call("GET", "/v1/studies", query_string={"PatientID": "nobody"})
    assert empty.get_json() == {"items": [], "limit": 100, "offset": 0, "total": 0}


@pytest.mark.parametrize(("query", "parameter"), [
    ({"StudyDate": "2024"}, "StudyDate"),
    ({"StudyDate": "20241231-20240101"}, "StudyDate"),
    ({"StudyInstanceUID": "1.2a"}, "StudyInstanceUID"),
    ({"limit": "0"}, "limit"),
    ({"limit": "1001"}, "limit"),
    ({"offset": "-1"}, "offset"),
    ({"limit": "ten"}, "limit"),
])
def test_search_studies_bad_parameters(reader: Contract, query: dict[str, str],
                                       parameter: str) -> None:
    # 20241231-20240101 is well-formed per the document; only the service sees the
    # range is reversed, so the document accepts that request.
    reversed_range = query.get("StudyDate") == "20241231-20240101"
    response = reader.call("GET", "/v1/studies", query_string=query,
                             request_valid=reversed_range)
    assert response.status_code == 400
    assert response.get_json()["parameter"] == parameter


def test_search_studies_refuses_unknown_filters(reader: Contract) -> None:
    # The document cannot forbid extra query parameters, so it accepts the request.
    response = reader.call("GET", "/v1/studies", query_string={"PatientBirthDate": "1961"})
    assert response.status_code == 400
    assert response.get_json()["parameter"] == "PatientBirthDate"


def test_get_study(reader: Contract, uids: Stored) -> None:
    study = reader.call("GET", f"/v1/studies/{uids.study}").get_json()
    assert study["StudyInstanceUID"] == uids.study
    assert study["NumberOfStudyRelatedSeries"] == 2
    assert study["NumberOfStudyRelatedInstances"] == 4
    assert study["PatientName"] == str(uids.ct_instance.PatientName)


def test_list_and_get_series(reader: Contract, uids: Stored) -> None:
    page = reader.call("GET", f"/v1/studies/{uids.study}/series").get_json()
    assert {s["SeriesInstanceUID"] for s in page["items"]} == {uids.ct_series,
                                                               uids.sr_series}
    series = reader.call("GET", f"/v1/studies/{uids.study}/series/{uids.ct_series}")
    body = series.get_json()
    assert body["Modality"] == uids.ct_instance.Modality
    assert body["SeriesNumber"] == uids.ct_instance.SeriesNumber
    assert body["NumberOfSeriesRelatedInstances"] == 3


def test_list_instances(reader: Contract, uids: Stored) -> None:
    path = f"/v1/studies/{uids.study}/series/{uids.ct_series}/instances"
    page = reader.call("GET", path, query_string={"limit": "2", "offset": "1"}).get_json()
    assert (page["limit"], page["offset"], page["total"]) == (2, 1, 3)
    assert [item["InstanceNumber"] for item in page["items"]] == [2, 3]


def test_get_instance_normalized(reader: Contract, uids: Stored) -> None:
    ct = uids.ct_instance
    path = (f"/v1/studies/{uids.study}/series/{uids.ct_series}/instances/"
            f"{ct.SOPInstanceUID}")
    attributes = reader.call("GET", path).get_json()
    assert attributes["Rows"] == ct.Rows
    assert attributes["ImagePositionPatient"] == [float(v) for v in ct.ImagePositionPatient]
    assert "BulkDataURI" in attributes["PixelData"]
    private_tags = {entry["tag"] for entry in attributes["private"]}
    expected = {f"{element.tag:08X}" for element in ct if element.tag.is_private}
    assert private_tags == expected


def test_get_instance_as_dicom_json(reader: Contract, uids: Stored,
                                    study_dump: list[dict]) -> None:
    sr = uids.sr_instance
    path = f"/v1/studies/{uids.study}/series/{uids.sr_series}/instances/{sr.SOPInstanceUID}"
    response = reader.call("GET", path, query_string={"view": "dicom"})
    assert response.mimetype == "application/dicom+json"
    posted = next(item for item in study_dump
                  if item["00080018"]["Value"] == [sr.SOPInstanceUID])
    assert response.get_json() == posted


def test_get_instance_bad_view(reader: Contract, uids: Stored) -> None:
    path = (f"/v1/studies/{uids.study}/series/{uids.ct_series}/instances/"
            f"{uids.ct_instance.SOPInstanceUID}")
    response = reader.call("GET", path, query_string={"view": "xml"}, request_valid=False)
    assert response.status_code == 400
    assert response.get_json()["parameter"] == "view"


def test_reports(reader: Contract, uids: Stored) -> None:
    body = reader.call("GET", f"/v1/studies/{uids.study}/reports").get_json()
    assert body["total"] == 1
    report = body["items"][0]
    sr = uids.sr_instance
    assert report["SOPInstanceUID"] == sr.SOPInstanceUID
    assert report["CompletionFlag"] == sr.CompletionFlag
    texts = [item.TextValue for item in sr.ContentSequence if item.ValueType == "TEXT"]
    assert texts and all(text in report["text"] for text in texts)


def test_delete_study(contract: Contract, stored: Stored) -> None:
    response = contract.call("DELETE", f"/v1/studies/{stored.study}")
    assert response.status_code == 204
    assert response.get_data() == b""
    gone = contract.call("GET", f"/v1/studies/{stored.study}")
    assert gone.status_code == 404


def _paths(study: str, series: str, instance: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"/v1/studies/{study}"),
        ("DELETE", f"/v1/studies/{study}"),
        ("GET", f"/v1/studies/{study}/series"),
        ("GET", f"/v1/studies/{study}/series/{series}"),
        ("GET", f"/v1/studies/{study}/series/{series}/instances"),
        ("GET", f"/v1/studies/{study}/series/{series}/instances/{instance}"),
        ("GET", f"/v1/studies/{study}/reports"),
    ]


def test_malformed_uids_are_400(reader: Contract, uids: Stored) -> None:
    for method, path in _paths("1.2.3a", "x", "1..2"):
        response = reader.call(method, path, request_valid=False)
        assert response.status_code == 400, path
        assert response.get_json()["parameter"] == "study", path
    instance = f"/v1/studies/{uids.study}/series/{uids.ct_series}/instances/{'1.' * 40}1"
    response = reader.call("GET", instance, request_valid=False)
    assert response.status_code == 400
    assert response.get_json()["parameter"] == "instance"


def test_unknown_uids_are_404(reader: Contract, uids: Stored) -> None:
    for method, path in _paths(UNKNOWN_UID, UNKNOWN_UID, UNKNOWN_UID):
        response = reader.call(method, path)
        assert response.status_code == 404, path
    # Known study, unknown series and instance: still a 404, not an empty page.
    for path in (f"/v1/studies/{uids.study}/series/{UNKNOWN_UID}/instances",
                 f"/v1/studies/{uids.study}/series/{uids.ct_series}/instances/{UNKNOWN_UID}"):
        assert reader.call("GET", path).status_code == 404, path


def test_series_of_another_study_is_404(reader: Contract, uids: Stored) -> None:
    response = reader.call("GET", f"/v1/studies/{UNKNOWN_UID}/series/{uids.ct_series}")
    assert response.status_code == 404
