"""Database errors during an ingest reach the log as types and SQLSTATEs, never as the
values of the row: PostgreSQL quotes rows ("Failing row contains …", "Key (…)=(…)") and
SQLAlchemy lists bound parameters unless the engine hides them.

The real service (gunicorn, JSON logs) ingests a dump full of recognisable names and IDs
while the database is sabotaged in several ways; every line it wrote is then searched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests
import sqlalchemy as sa

from service.examples.factory import StudySpec, make_dump, make_study
from tests.support.gunicorn import serve

NAME = "QZXDBERR^SECRETNAME"
PATIENT_ID = "QZX-DBERR-90210"
BIRTH_DATE = "19480229"
ACCESSION = "QZXACC-5512"
SECRETS = (NAME, "QZXDBERR", "SECRETNAME", PATIENT_ID, BIRTH_DATE, ACCESSION)
# Each sabotage: SQL that breaks the next ingest, the SQL that undoes it, and what the
# log must say of it (proof that the error was logged, only without values).
SABOTAGE = {
    "check constraint (PostgreSQL quotes the failing row)": (
        "ALTER TABLE studies ADD CONSTRAINT no_qzx CHECK (patient_name NOT LIKE 'QZX%') "
        "NOT VALID", "ALTER TABLE studies DROP CONSTRAINT no_qzx", "SQLSTATE 23514"),
    "trigger raising with the row's values": (
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'refused % % %', NEW.patient_name, NEW.patient_id, "
        "NEW.accession_number; END $$; CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON "
        "studies FOR EACH ROW EXECUTE FUNCTION refuse()",
        "DROP TRIGGER refuse ON studies; DROP FUNCTION refuse()", "SQLSTATE P0001"),
    "unique index (PostgreSQL quotes the duplicate key)": (
        "CREATE UNIQUE INDEX one_per_patient ON studies (patient_id)",
        # (retried as a lost race, then 503; or, if not retried, logged with its SQLSTATE)
        "DROP INDEX one_per_patient", ("lost a race (unique violation)", "SQLSTATE 23505")),
    "connection killed mid-ingest": (
        "CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$; "
        "CREATE TRIGGER die BEFORE INSERT OR UPDATE ON studies FOR EACH ROW "
        "EXECUTE FUNCTION die()", "DROP TRIGGER die ON studies; DROP FUNCTION die()",
        "SQLSTATE 57P01"),
}


@pytest.fixture
def admin(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def study(seed: int) -> list[dict]:
    return make_dump(make_study(StudySpec(
        seed=seed, n_slices=1, rows=8, columns=8, patient_name=NAME, patient_id=PATIENT_ID,
        patient_birth_date=BIRTH_DATE, accession_number=ACCESSION)))


def test_database_errors_during_ingest_log_no_patient_data(
        tmp_path: Path, postgres_url: str, admin: sa.Engine, services: list) -> None:
    service = serve(postgres_url, tmp_path / "service.log", workers=1,
                    DICOM_RESOLVER_MIGRATE_ON_START="true", DICOM_RESOLVER_LOG_LEVEL="DEBUG")
    services.append(service)
    url = f"{service.url}/v1/dumps"
    headers = {"Content-Type": "application/dicom+json"}
    # One study stored first, so that the unique index has a key to collide with.
    assert requests.post(url, data=orjson.dumps(study(1)), headers=headers,
                         timeout=60).status_code == 200
    with admin.begin() as connection:
        before = connection.execute(sa.text("SELECT count(*) FROM instances")).scalar()
    for seed, (what, (break_it, mend_it, _)) in enumerate(SABOTAGE.items(), start=2):
        with admin.begin() as connection:
            connection.exec_driver_sql(break_it.replace("%", "%%"))  # no parameters
        try:
            answer = requests.post(url, data=orjson.dumps(study(seed)), headers=headers,
                                   timeout=60)
        finally:
            with admin.begin() as connection:
                connection.exec_driver_sql(mend_it)
        assert answer.status_code >= 500, (what, answer.status_code)
        assert answer.headers["Content-Type"] == "application/problem+json", what
        assert not any(secret in answer.text for secret in SECRETS), (what, answer.text)
    with admin.begin() as connection:  # every failed ingest left the store as it was
        assert connection.execute(sa.text("SELECT count(*) FROM instances")).scalar() == before
    # Mended, the same kind of dump goes in again (the pool replaced the killed connection).
    assert requests.post(url, data=orjson.dumps(study(99)), headers=headers,
                         timeout=60).status_code == 200
    assert service.stop() == 0

    log = service.log
    for secret in SECRETS:
        assert secret not in log, secret
    records = [json.loads(line) for line in log.splitlines() if line.strip()]
    logged = "\n".join(r.get("exception", "") + r["message"] for r in records)
    for what, (_, _, said) in SABOTAGE.items():
        assert any(text in logged for text in ([said] if isinstance(said, str) else said)), \
            what
    assert "parameters:" not in log and "Failing row" not in log
