"""PostgreSQL writers of one study queue on its lock (repository.lock_studies) instead of
failing; writers of other studies do not wait."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import orjson
import pytest
from sqlalchemy import Engine

from service.dicom.records import parse_dump
from service.examples.factory import StudySpec, make_dump, make_study
from service.store import repository
from service.store.engine import WRITE, make_engine


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    made = make_engine(postgres_url)
    yield made
    made.dispose()


def _ingest_in_background(engine: Engine, seed: int) -> tuple[threading.Event, dict, str]:
    """Start ingesting a small study in a thread: (done, its result holder, study UID)."""
    body = orjson.dumps(make_dump(make_study(StudySpec(seed=seed, n_slices=3, rows=8,
                                                       columns=8))))
    records = parse_dump(body).records
    done, outcome = threading.Event(), {}

    def run() -> None:
        try:
            outcome["result"] = repository.ingest(engine, records, body)
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    return done, outcome, records[0].study_uid


def _study_uid(seed: int) -> str:
    return make_study(StudySpec(seed=seed, n_slices=1, rows=8, columns=8))[0].StudyInstanceUID


def test_an_ingest_waits_for_the_holder_of_its_study_lock(engine: Engine) -> None:
    with engine.connect().execution_options(**WRITE) as holder:
        transaction = holder.begin()
        repository.lock_studies(holder, [_study_uid(41)])
        done, outcome, _ = _ingest_in_background(engine, 41)
        assert not done.wait(1.5)  # queued behind the holder, not failed
        transaction.commit()
    assert done.wait(30)
    assert outcome["result"].created == outcome["result"].received > 0


def test_an_ingest_of_another_study_does_not_wait(engine: Engine) -> None:
    with engine.connect().execution_options(**WRITE) as holder:
        transaction = holder.begin()
        repository.lock_studies(holder, [_study_uid(42)])
        done, outcome, study_uid = _ingest_in_background(engine, 43)
        assert study_uid != _study_uid(42)
        assert done.wait(30)  # while the other study's lock is still held
        assert outcome["result"].created > 0
        transaction.rollback()
