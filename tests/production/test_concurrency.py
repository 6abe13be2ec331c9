"""Several gunicorn workers ingesting and reading at once on one SQLite store."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import orjson
import requests

from service.examples.factory import StudySpec, make_dump, make_study


def test_concurrent_ingest_and_reads_lose_nothing(gunicorn_server) -> None:
    dumps = [orjson.dumps(make_dump(make_study(StudySpec(
        seed=100 + i, n_slices=8, rows=16, columns=16, patient_id=f"CONC-{i}")))) for i in range(6)]
    # Every dump is sent twice, concurrently, so that overlapping ingests race.
    bodies = dumps + dumps
    url = gunicorn_server.url

    def ingest(body: bytes) -> int:
        return requests.post(f"{url}/v1/dumps", data=body, timeout=60,
                             headers={"Content-Type": "application/dicom+json"}).status_code

    def read(_: int) -> int:
        return requests.get(f"{url}/v1/studies?PatientName=*", timeout=60).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        writes = pool.map(ingest, bodies)
        reads = pool.map(read, range(60))
        write_statuses, read_statuses = list(writes), list(reads)
    assert write_statuses == [200] * len(bodies)
    assert set(read_statuses) == {200}
    page = requests.get(f"{url}/v1/studies", timeout=10).json()
    assert page["total"] == len(dumps)
    assert sorted(item["NumberOfStudyRelatedInstances"] for item in page["items"]) == [9] * 6
    assert gunicorn_server.stop() == 0
    assert "database is locked" not in gunicorn_server.stderr
    assert "Traceback" not in gunicorn_server.stderr
