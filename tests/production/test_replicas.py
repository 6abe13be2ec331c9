"""Two replicas (separate gunicorn masters) on one PostgreSQL store."""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import requests
import sqlalchemy as sa

from service.examples.factory import StudySpec, make_dump, make_study
from tests.support.gunicorn import serve

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
    stored, series_counts, study_counts = _stored(postgres_url)
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


def _stored(postgres_url: str) -> tuple[list, dict, dict]:
    """(sop, series, study) rows of the instances, and the stored series and study counts."""
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT sop_uid, series_uid, study_uid FROM instances")).all()
            series_counts = dict(connection.execute(sa.text(
                "SELECT series_uid, instance_count FROM series")).all())
            study_counts = dict(connection.execute(sa.text(
                "SELECT study_uid, instance_count FROM studies")).all())
    finally:
        engine.dispose()
    return rows, series_counts, study_counts


def test_contending_clients_never_see_store_busy(postgres_url: str, tmp_path: Path,
                                                 services: list) -> None:
    """bench/contention.py's load, shortened: 8 clients for 8 s, through both replicas,
    sending overlapping windows of two studies, each time with one of four revisions of
    an instance attribute (so that dumps create, update or leave unchanged instances
    other clients are writing). Every dump is answered 200: none is told the store is
    busy (503), and the store ends exact."""
    replicas = [serve(postgres_url, tmp_path / f"{name}.log", workers=2,
                      DICOM_RESOLVER_MIGRATE_ON_START="true") for name in "ab"]
    services.extend(replicas)
    dumps = [make_dump(small_study(seed)) for seed in (4, 5)]
    windows = [slice(0, 16), slice(8, 24), slice(16, None), slice(None)]
    deadline = time.monotonic() + 8

    def client(seed: int) -> Counter:
        chooser, statuses = random.Random(seed), Counter()
        with requests.Session() as session:
            while time.monotonic() < deadline:
                revision = chooser.randrange(4)
                body = [{**instance, "00204000": {"vr": "LT", "Value": [f"r{revision}"]}}
                        for instance in chooser.choice(dumps)[chooser.choice(windows)]]
                answer = session.post(f"{chooser.choice(replicas).url}/v1/dumps",
                                      data=orjson.dumps(body), headers=JSON, timeout=120)
                statuses[answer.status_code] += 1
        return statuses

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sum(pool.map(client, range(8)), Counter())
    assert set(statuses) == {200}, statuses
    assert sum(statuses.values()) >= 16  # the load really ran (a very slow machine: few)

    rows, series_counts, study_counts = _stored(postgres_url)
    sent = {i["00080018"]["Value"][0]: i for dump in dumps for i in dump}
    assert sorted(sop for sop, _, _ in rows) == sorted(sent)
    assert series_counts == dict(Counter(series_uid for _, series_uid, _ in rows))
    assert study_counts == dict(Counter(study_uid for _, _, study_uid in rows))
    for replica in replicas:
        assert replica.stop() == 0
        assert "Traceback" not in replica.log


def test_an_instance_sent_to_two_studies_at_once_is_stored_once_and_409(
        postgres_url: str, tmp_path: Path, services: list) -> None:
    """The same instances (and series) in two dumps naming different studies, posted at
    the same moment through different replicas: one dump is stored, the other answers 409
    and stores nothing, never both 200 (each dump holds only its own study's lock)."""
    replicas = [serve(postgres_url, tmp_path / f"{name}.log", workers=2,
                      DICOM_RESOLVER_MIGRATE_ON_START="true") for name in "ab"]
    services.extend(replicas)
    rounds = []
    for seed in range(10, 16):
        original = make_dump(small_study(seed))
        elsewhere = [{**i, "0020000D": {"vr": "UI", "Value": [f"2.25.{900 + seed}"]}}
                     for i in original]
        rounds.append((original, elsewhere))

    def post(job: tuple[str, list]) -> int:
        url, dump = job
        return requests.post(f"{url}/v1/dumps", data=orjson.dumps(dump), headers=JSON,
                             timeout=120).status_code

    jobs = [(replica.url, dump) for pair in rounds
            for replica, dump in zip(replicas, pair, strict=True)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        answers = list(pool.map(post, jobs))
    assert sorted(answers) == [200] * len(rounds) + [409] * len(rounds), answers
    rows, series_counts, study_counts = _stored(postgres_url)
    for index, (original, elsewhere) in enumerate(rounds):
        winner = original if answers[2 * index] == 200 else elsewhere
        study = winner[0]["0020000D"]["Value"][0]
        sops = {i["00080018"]["Value"][0] for i in winner}
        assert {sop for sop, _, stored_study in rows if stored_study == study} == sops
        assert study_counts[study] == len(sops)
    assert len(rows) == sum(len(original) for original, _ in rounds)  # the losers: nothing
    assert len(study_counts) == len(rounds)
