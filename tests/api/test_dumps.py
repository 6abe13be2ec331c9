"""POST /v1/dumps: atomic, idempotent ingest with problem bodies for every bad input."""

from __future__ import annotations

import copy
import gzip

import orjson
import pytest

from service import create_app
from service.examples.factory import StudySpec, make_dump, make_study
from tests.api.conftest import post_dump
from tests.support.database import snapshot

PROBLEM = "application/problem+json"


def test_ingest_answers_counts_and_uids(client, study_datasets, study_body) -> None:
    response = post_dump(client, study_body)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["received"] == answer["created"] == len(study_datasets)
    assert answer["updated"] == answer["unchanged"] == 0
    assert answer["studies"] == sorted({ds.StudyInstanceUID for ds in study_datasets})
    assert answer["series"] == sorted({ds.SeriesInstanceUID for ds in study_datasets})


def test_reingest_is_idempotent(client, engine, study_body) -> None:
    assert post_dump(client, study_body).status_code == 200
    before = snapshot(engine)
    answer = post_dump(client, study_body).get_json()
    assert answer["unchanged"] == answer["received"] and answer["created"] == 0
    after = snapshot(engine)
    # Only the ingest log grows; every study, series and instance row is untouched.
    for table in ("studies", "series", "instances"):
        assert after[table] == before[table]


def test_changed_instance_replaces_the_old_one(client, study_dump, study_datasets) -> None:
    post_dump(client, orjson.dumps(study_dump))
    changed = copy.deepcopy(study_dump)
    changed[1]["00081030"] = {"vr": "LO", "Value": ["CHANGED DESCRIPTION"]}
    answer = post_dump(client, orjson.dumps(changed)).get_json()
    assert (answer["updated"], answer["unchanged"]) == (1, len(study_dump) - 1)
    ds = study_datasets[1]
    instance = client.get(f"/v1/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
                          f"/instances/{ds.SOPInstanceUID}").get_json()
    assert instance["StudyDescription"] == "CHANGED DESCRIPTION"


def test_single_instance_object_and_gzip(client, study_dump) -> None:
    response = post_dump(client, gzip.compress(orjson.dumps(study_dump[1])),
                         content_type="application/json", **{"Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.get_json()["created"] == 1


@pytest.mark.parametrize(("body", "status", "path"), [
    (b"not json", 400, "$"),
    (b'{"a": 1', 400, "$"),
    (b"42", 400, "$"),
    (b"[]", 400, "$"),
])
def test_malformed_bodies(client, engine, body, status, path) -> None:
    before = snapshot(engine)
    response = post_dump(client, body)
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    assert response.get_json()["errors"][0]["path"] == path
    assert snapshot(engine) == before


def test_one_bad_instance_stores_nothing(client, engine, study_dump) -> None:
    broken = copy.deepcopy(study_dump)
    broken[3]["00280010"] = {"vr": "US", "Value": ["sixty-four"]}
    del broken[5]["00080018"]
    before = snapshot(engine)
    response = post_dump(client, orjson.dumps(broken))
    assert response.status_code == 400
    problem = response.get_json()
    assert {(e["instance"], e["path"]) for e in problem["errors"]} == {
        (3, "$[3].00280010.Value[0]"), (5, "$[5].00080018")}
    assert snapshot(engine) == before


def test_instance_moving_to_another_study_is_a_conflict(client, engine, study_dump) -> None:
    post_dump(client, orjson.dumps(study_dump))
    moved = copy.deepcopy(study_dump[2])
    moved["0020000D"] = {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1.999"]}
    moved["0020000E"] = {"vr": "UI", "Value": ["1.2.826.0.1.3680043.10.1.999.1"]}
    before = snapshot(engine)
    response = post_dump(client, orjson.dumps([moved]))
    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert response.get_json()["errors"][0]["SOPInstanceUID"] == \
        study_dump[2]["00080018"]["Value"][0]
    assert snapshot(engine) == before


def test_wrong_media_type_is_415(client, engine, study_body) -> None:
    before = snapshot(engine)
    response = post_dump(client, study_body, content_type="text/plain")
    assert response.status_code == 415
    assert response.get_json()["header"] == "Content-Type"
    response = post_dump(client, study_body, **{"Content-Encoding": "br"})
    assert response.status_code == 415
    assert snapshot(engine) == before


def test_too_large_is_413(settings, study_body) -> None:
    small = create_app(settings.__class__(**{**settings.__dict__, "max_dump_bytes": 1000}))
    client = small.test_client()
    engine = small.extensions["engine"]
    before = snapshot(engine)
    assert post_dump(client, study_body).status_code == 413
    # A gzip bomb is measured after decompression.
    bomb = gzip.compress(b"[" + b" " * 5000 + b"]")
    assert len(bomb) < 1000
    response = post_dump(client, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert response.mimetype == PROBLEM
    assert snapshot(engine) == before
    engine.dispose()


def test_problem_bodies_never_echo_patient_data(client, study_dump) -> None:
    broken = copy.deepcopy(study_dump)
    broken[0]["00100010"] = {"vr": "PN", "Value": [{"Alphabetic": "SECRET^NAME", "Bad": 1}]}
    broken[0]["00100020"] = {"vr": "LO", "Value": [12345]}
    text = post_dump(client, orjson.dumps(broken)).get_data(as_text=True)
    assert "SECRET" not in text and "12345" not in text


def test_many_studies_ingest_in_one_dump(client) -> None:
    dumps = []
    for seed in range(3):
        dumps += make_dump(make_study(StudySpec(seed=seed + 10, n_slices=2, rows=32, columns=32,
                                                patient_id=f"P{seed}")))
    answer = post_dump(client, orjson.dumps(dumps)).get_json()
    assert len(answer["studies"]) == 3
    assert client.get("/v1/studies").get_json()["total"] == 3
