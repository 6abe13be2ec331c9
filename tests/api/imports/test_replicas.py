"""Replicas sharing imports through the database: two apps (two engines, two workers) on
one store never run the same study, and a service killed with SIGKILL mid-import
(gunicorn, worker enabled) finishes it after a restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests
from flask import Flask
from sqlalchemy import select

from dicom_resolver_testing.stack import free_port
from service.emulator.server import Emulator
from service.store.schema import import_studies
from service.usecases.import_worker import StudyOutcome
from tests.support.google_store import StandInStudy
from tests.support.gunicorn import ServiceProcess, serve_argv


def test_two_replicas_share_one_import_without_double_work(
        make_app: Callable[..., Flask], stand_in: Emulator,
        studies: list[StandInStudy]) -> None:
    # Each metadata answer takes a while, so that both replicas are busy at once.
    stand_in.inject("/metadata", status=None, delay=0.3, count=len(studies))
    replicas = [make_app(import_concurrency=2), make_app(import_concurrency=2)]
    created = replicas[0].test_client().post(
        "/v1/imports", json={"study_uids": [s.study_uid for s in studies]}).get_json()
    worked: list[list[StudyOutcome]] = [[], []]
    threads = [threading.Thread(target=app.extensions["import_worker"].run,
                                args=(created["id"], outcomes.append))
               for app, outcomes in zip(replicas, worked, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(outcomes for outcomes in worked), "both replicas should have taken studies"
    uids = [outcome.study_uid for outcomes in worked for outcome in outcomes]
    assert sorted(uids) == sorted(s.study_uid for s in studies)  # each exactly once
    fetched = [r.path for r in stand_in.requests if r.path.endswith("/metadata")]
    assert len(fetched) == len(set(fetched)) == len(studies)
    engine = replicas[1].extensions["engine"]
    with engine.connect() as connection:
        rows = connection.execute(select(import_studies.c.attempts, import_studies.c.owner,
                                         import_studies.c.state)).all()
    assert {attempts for attempts, _, _ in rows} == {1}
    assert {state for _, _, state in rows} == {"done"}
    assert len({owner for _, owner, _ in rows}) == 2
    final = replicas[1].test_client().get(f"/v1/imports/{created['id']}").get_json()
    assert final["state"] == "done" and final["instances"] == sum(s.instances for s in studies)


def start_service(env: dict[str, str], log: Path) -> ServiceProcess:
    """`dicom-resolver serve` with the import worker on (`env`), appending to `log`, ready."""
    port = free_port()
    return ServiceProcess(serve_argv(port, workers=1), env, log, port,
                          append_log=True).wait_ready()


def test_an_import_survives_the_service_being_killed(
        stand_in: Emulator, studies: list[StandInStudy], service_env: dict[str, str],
        tmp_path: Path) -> None:
    stand_in.inject("/metadata", status=None, delay=0.5, count=2 * len(studies))
    env = dict(service_env)
    env.update({
        "DICOM_RESOLVER_IMPORT_WORKER": "true",
        "DICOM_RESOLVER_IMPORT_CONCURRENCY": "1",
        "DICOM_RESOLVER_IMPORT_LEASE_SECONDS": "2",
        "DICOM_RESOLVER_IMPORT_POLL_SECONDS": "0.2",
        "DICOM_RESOLVER_LOG_FORMAT": "text",
    })
    log = tmp_path / "service.log"
    first = start_service(env, log)
    try:
        created = requests.post(f"{first.url}/v1/imports", timeout=10, json={
            "filters": {"StudyDate": "19000101-"}})
        assert created.status_code == 202
        location = first.url + created.headers["Location"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = requests.get(location, timeout=10).json()
            if state["studies"]["done"] >= 1:
                break
            time.sleep(0.05)
        first.kill()
    finally:
        first.kill()
    assert 1 <= state["studies"]["done"] < len(studies)

    second = start_service(env, log)
    try:
        url = second.url + created.headers["Location"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            final = requests.get(url, timeout=10).json()
            if final["state"] not in ("queued", "running"):
                break
            time.sleep(0.2)
        metrics = requests.get(f"{second.url}/metrics", timeout=10).text
    finally:
        second.stop()
    assert final["state"] == "done", (final, log.read_text()[-3000:])
    assert final["studies"]["done"] == final["studies"]["found"] == len(studies)
    assert final["instances"] == sum(s.instances for s in studies)
    assert "dicom_resolver_import_studies_total" in metrics
    fetched = [r.path for r in stand_in.requests if r.path.endswith("/metadata")]
    assert len(set(fetched)) == len(studies) and len(fetched) <= len(studies) + 1


def test_a_long_study_keeps_its_claim_while_its_worker_lives(
        make_app: Callable[..., Flask], stand_in: Emulator,
        studies: list[StandInStudy]) -> None:
    """Leases are renewed: a study slower than the lease is not taken over by another
    replica while the first is still working on it."""
    uid = studies[0].study_uid
    stand_in.inject(f"/studies/{uid}/metadata", status=None, delay=4.0, count=2)
    first, second = make_app(import_lease_seconds=1.5), make_app(import_lease_seconds=1.5)
    created = first.test_client().post("/v1/imports", json={"study_uids": [uid]}).get_json()
    worker = threading.Thread(target=first.extensions["import_worker"].run,
                              args=(created["id"],))
    worker.start()
    time.sleep(2.5)  # past the lease: without renewal the claim would have expired
    taken: list[StudyOutcome] = []
    second.extensions["import_worker"].run(created["id"], taken.append)
    worker.join(30)
    assert taken == []  # the second replica waited for the first instead of fetching again
    fetched = [r.path for r in stand_in.requests if r.path.endswith(f"{uid}/metadata")]
    assert len(fetched) == 1
    state = second.test_client().get(f"/v1/imports/{created['id']}").get_json()
    assert state["state"] == "done" and state["studies"]["done"] == 1
