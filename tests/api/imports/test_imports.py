"""Imports from the stand-in Google DICOM store through POST/GET/DELETE /v1/imports."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
from flask import Flask

from service.emulator.server import Emulator
from service.store.engine import make_engine
from service.usecases.ingest import ingest_bytes
from tests.support.google_store import StandInStudy, exported_by_hand, stored_rows


def run_import(app: Flask, body: dict) -> dict:
    """POST the import, let this app's worker run it to the end, answer its resource."""
    client = app.test_client()
    created = client.post("/v1/imports", json=body)
    assert created.status_code == 202, created.get_json()
    assert created.headers["Location"] == f"/v1/imports/{created.get_json()['id']}"
    assert created.get_json()["state"] == "queued"
    app.extensions["import_worker"].run(created.get_json()["id"])
    answer = client.get(created.headers["Location"])
    assert answer.status_code == 200
    return answer.get_json()


def metadata_requests(stand_in: Emulator) -> list[str]:
    return [r.path for r in stand_in.requests if r.path.endswith("/metadata")]


def test_import_by_uids_equals_posting_the_metadata_by_hand(
        make_app: Callable[..., Flask], stand_in: Emulator, studies: list[StandInStudy],
        session: requests.Session, tmp_path: Path) -> None:
    app = make_app()
    chosen = [studies[0].study_uid, studies[3].study_uid]
    result = run_import(app, {"study_uids": chosen})
    assert result["state"] == "done"
    assert result["studies"] | {"found": 2, "done": 2, "failed": 0} == result["studies"]
    assert result["instances"] == studies[0].instances + studies[3].instances
    assert result["started_at"] and result["finished_at"] >= result["started_at"]

    by_hand = make_engine(f"sqlite:///{tmp_path / 'by-hand.sqlite3'}")
    for uid in chosen:
        ingest_bytes(by_hand, exported_by_hand(stand_in, session, uid))
    assert stored_rows(app.extensions["engine"]) == stored_rows(by_hand)
    by_hand.dispose()


def test_import_again_reports_unchanged_studies(make_app: Callable[..., Flask],
                                               studies: list[StandInStudy]) -> None:
    app = make_app()
    uids = [studies[1].study_uid]
    assert run_import(app, {"study_uids": uids})["studies"]["done"] == 1
    again = run_import(app, {"study_uids": uids})
    assert again["state"] == "done"
    assert again["studies"]["unchanged"] == 1 and again["studies"]["done"] == 0


@pytest.mark.parametrize(("filters", "wanted"), [
    ({"StudyDate": "20240201-20240430"}, lambda s: "20240201" <= s.study_date <= "20240430"),
    ({"PatientID": "PAT-A"}, lambda s: s.patient_id == "PAT-A"),
    ({"ModalitiesInStudy": "MR", "StudyDate": "-20240301"},
     lambda s: s.modality == "MR" and s.study_date <= "20240301"),
])
def test_import_by_qido_filters(make_app: Callable[..., Flask], studies: list[StandInStudy],
                                filters: dict, wanted: Callable[[StandInStudy], bool]) -> None:
    app = make_app()
    result = run_import(app, {"filters": filters})
    expected = {s.study_uid for s in studies if wanted(s)}
    assert expected, "the filter should match something in the stand-in"
    assert result["state"] == "done"
    assert result["studies"]["found"] == result["studies"]["done"] == len(expected)
    body = app.test_client().get("/v1/studies?limit=100").get_json()
    assert {item["StudyInstanceUID"] for item in body["items"]} == expected


def test_search_pages_past_the_stand_ins_page_size(make_app: Callable[..., Flask],
                                                  stand_in: Emulator,
                                                  studies: list[StandInStudy]) -> None:
    stand_in.cap_qido_results(2)  # Google caps pages too; the importer must follow on
    app = make_app()
    result = run_import(app, {"filters": {"StudyDate": "19000101-"}})
    assert result["studies"]["found"] == result["studies"]["done"] == len(studies)
    # Asked for 1000 a page, answered 2 with Google's "additional results" warning: the
    # next page starts where the answer ended.
    assert [(page["limit"], page["offset"]) for page in searches(stand_in)] == [
        (["1000"], ["0"]), (["1000"], ["2"]), (["1000"], ["4"])]
    assert len(metadata_requests(stand_in)) == len(studies)


def test_a_failing_study_is_reported_and_the_rest_imported(
        make_app: Callable[..., Flask], stand_in: Emulator,
        studies: list[StandInStudy]) -> None:
    broken = studies[2].study_uid
    stand_in.inject(f"/studies/{broken}/metadata", status=500, count=3)
    app = make_app(upstream_max_retries=2)  # three answers: the first and two retries
    result = run_import(app, {"study_uids": [s.study_uid for s in studies]})
    assert result["state"] == "done"
    assert result["studies"]["failed"] == 1
    assert result["studies"]["done"] == len(studies) - 1
    [failure] = result["failures"]
    assert failure["study_uid"] == broken
    assert "upstream 500" in failure["reason"] and "2 retries" in failure["reason"]
    assert result["instances"] == sum(s.instances for s in studies if s.study_uid != broken)
    statuses = [r.status for r in stand_in.requests if r.path.endswith(f"{broken}/metadata")]
    assert statuses == [500, 500, 500]
    client = app.test_client()
    assert client.get(f"/v1/studies/{broken}").status_code == 404
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'dicom_resolver_import_studies_total{outcome="failed"} 1.0' in metrics
    assert f'dicom_resolver_import_studies_total{{outcome="done"}} {len(studies) - 1}.0' \
        in metrics
    assert "dicom_resolver_import_queue_studies 0.0" in metrics


def test_retry_after_is_honoured_and_the_study_imported(
        make_app: Callable[..., Flask], stand_in: Emulator,
        studies: list[StandInStudy]) -> None:
    uid = studies[0].study_uid
    stand_in.inject(f"/studies/{uid}/metadata", status=429, retry_after=1, count=1)
    app = make_app()
    started = time.monotonic()
    result = run_import(app, {"study_uids": [uid]})
    assert result["studies"]["done"] == 1
    assert time.monotonic() - started >= 1.0


def test_a_failed_search_fails_the_import(make_app: Callable[..., Flask],
                                         stand_in: Emulator) -> None:
    stand_in.inject("/dicomWeb/studies", status=403, count=1)
    result = run_import(make_app(), {"filters": {"PatientID": "PAT-A"}})
    assert result["state"] == "failed"
    assert "403" in result["error"]
    assert result["studies"]["found"] == 0


def test_cancel_before_it_runs(make_app: Callable[..., Flask], stand_in: Emulator,
                               studies: list[StandInStudy]) -> None:
    app = make_app()
    client = app.test_client()
    created = client.post("/v1/imports", json={"study_uids": [studies[0].study_uid]})
    cancelled = client.delete(created.headers["Location"])
    assert cancelled.status_code == 200
    assert cancelled.get_json()["state"] == "cancelled"
    assert cancelled.get_json()["studies"]["cancelled"] == 1
    app.extensions["import_worker"].run(created.get_json()["id"])
    assert metadata_requests(stand_in) == []
    again = client.delete(created.headers["Location"])
    assert again.status_code == 409
    assert again.get_json()["state"] == "cancelled"


def test_the_background_worker_runs_queued_imports(make_app: Callable[..., Flask],
                                                  studies: list[StandInStudy]) -> None:
    app = make_app(import_worker=True)
    client = app.test_client()
    created = client.post("/v1/imports", json={"study_uids": [studies[4].study_uid]})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = client.get(created.headers["Location"]).get_json()
        if state["state"] == "done":
            break
        time.sleep(0.05)
    assert state["state"] == "done" and state["studies"]["done"] == 1
    app.extensions["import_worker"].stop()
    assert client.get(f"/v1/studies/{studies[4].study_uid}").status_code == 200


@pytest.mark.parametrize(("body", "pointer"), [
    ({}, "/"),
    ({"study_uids": ["1.2"], "filters": {}}, "/"),
    ({"study_uids": []}, "/study_uids"),
    ({"study_uids": ["1.2", "x.y"]}, "/study_uids/1"),
    ({"filters": {"StudyDate": "2024-01-01"}}, "/filters/StudyDate"),
    ({"filters": {"StudyDate": "20240301-20240101"}}, "/filters/StudyDate"),
    ({"filters": {"PatientName": "DOE^J"}}, "/filters/PatientName"),
    ({"filters": {"ModalitiesInStudy": "ct;drop"}}, "/filters/ModalitiesInStudy"),
    ({"filters": {"PatientID": "A\\B"}}, "/filters/PatientID"),
    ({"store": "projects/p/datasets/d", "study_uids": ["1.2"]}, "/store"),
    ({"study_uids": ["1.2"], "priority": 1}, "/priority"),
])
def test_bad_requests_name_the_field(make_app: Callable[..., Flask], body: dict,
                                     pointer: str) -> None:
    client = make_app().test_client()
    answer = client.post("/v1/imports", json=body)
    assert answer.status_code == 400
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["pointer"] == pointer


def test_unknown_and_malformed_import_ids_are_404(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    for import_id in ("0" * 32, "not-an-id"):
        assert client.get(f"/v1/imports/{import_id}").status_code == 404
        assert client.delete(f"/v1/imports/{import_id}").status_code == 404
    assert client.post("/v1/imports", data="{", content_type="application/json"
                       ).status_code == 400
    assert client.post("/v1/imports", data="{}", content_type="text/plain"
                       ).status_code == 415


def searches(stand_in: Emulator) -> list[dict[str, list[str]]]:
    return [parse_qs(r.query) for r in stand_in.requests if r.path.endswith("/dicomWeb/studies")]


def test_search_parameters_sent_to_the_store(make_app: Callable[..., Flask],
                                            stand_in: Emulator) -> None:
    """What goes on the wire: the filters, includefield, limit and offset."""
    run_import(make_app(import_page_size=50),
               {"filters": {"StudyDate": "20240101-20240131", "PatientID": "PAT-A"}})
    assert searches(stand_in) == [{"StudyDate": ["20240101-20240131"], "PatientID": ["PAT-A"],
                                   "includefield": ["0020000D"], "limit": ["50"],
                                   "offset": ["0"]}]
