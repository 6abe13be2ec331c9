"""Two replicas (separate gunicorn masters) on one PostgreSQL store."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import requests
import sqlalchemy as sa

from service.examples.factory import StudySpec, make_dump, make_study

from .conftest import serve

JSON = {"Content-Type": "application/dicom+json"}


def small_study(seed: int) -> list:
    return make_study(StudySpec(seed=seed, n_slices=10, n_series=3, rows=16, columns=16,
                                patient_id=f"REPLICA-{seed}"))


def test_ingest_through_one_replica_read_through_the_other(postgres_url: str, tmp_path: Path,
                                                          services: list) -> None:
    first = serve(postgres_url, tmp_path / "a.log", DICOM_RESOLVER_MIGRATE_ON_START="true")
    services.append(first)
    second = serve(postgres_url, tmp_path / "b.log", DICOM_RESOLVER_MIGRATE_ON_START="true")
    services.append(second)
    datasets = small_study(1)
    answer = requests.post(f"{first.url}/v1/dumps", data=orjson.dumps(make_dump(datasets)),
                           headers=JSON, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == len(datasets)
    study = requests.get(f"{second.url}/v1/studies/{datasets[0].StudyInstanceUID}", timeout=10)
    assert study.status_code == 200
    assert study.json()["NumberOfStudyRelatedInstances"] == len(datasets)


def test_concurrent_overlapping_ingest_through_both_loses_nothing(
        postgres_url: str, tmp_path: Path, services: list) -> None:
    replicas = [serve(postgres_url, tmp_path / f"{name}.log", workers=3,
                      DICOM_RESOLVER_MIGRATE_ON_START="true") for name in "ab"]
    services.extend(replicas)
    studies = [small_study(seed) for seed in (2, 3)]
    # Overlapping windows of each study, plus the whole study: every instance is sent
    # several times, through both replicas, at the same time.
    bodies = []
    for datasets in studies:
        dump = make_dump(datasets)
        for window in (slice(0, 16), slice(8, 24), slice(16, None), slice(None)):
            bodies.append(orjson.dumps(dump[window]))
    jobs = [(replica.url, body) for body in bodies for replica in replicas]

    def ingest(job: tuple[str, bytes]) -> tuple[int, str]:
        url, body = job
        answer = requests.post(f"{url}/v1/dumps", data=body, headers=JSON, timeout=120)
        return answer.status_code, answer.text

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        answers = list(pool.map(ingest, jobs))
    assert [status for status, _ in answers] == [200] * len(jobs), answers

    expected = {ds.SOPInstanceUID: ds for datasets in studies for ds in datasets}
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            stored = connection.execute(sa.text(
                "SELECT sop_uid, series_uid, study_uid FROM instances")).all()
            series_counts = dict(connection.execute(sa.text(
                "SELECT series_uid, instance_count FROM series")).all())
            study_counts = dict(connection.execute(sa.text(
                "SELECT study_uid, instance_count FROM studies")).all())
    finally:
        engine.dispose()
    assert sorted(uid for uid, _, _ in stored) == sorted(expected)  # nothing lost, no twin
    assert all(expected[sop].SeriesInstanceUID == series_uid for sop, series_uid, _ in stored)
    # The stored counts (read-then-write at ingest) agree with the rows: no lost update.
    assert series_counts == dict(Counter(ds.SeriesInstanceUID for ds in expected.values()))
    assert study_counts == dict(Counter(ds.StudyInstanceUID for ds in expected.values()))
    for datasets in studies:  # and each replica answers the same
        for replica in replicas:
            study = requests.get(f"{replica.url}/v1/studies/{datasets[0].StudyInstanceUID}",
                                 timeout=10).json()
            assert study["NumberOfStudyRelatedInstances"] == len(datasets)
            assert study["NumberOfStudyRelatedSeries"] == len(
                {ds.SeriesInstanceUID for ds in datasets})
    for replica in replicas:
        assert replica.stop() == 0
        assert "Traceback" not in replica.log
