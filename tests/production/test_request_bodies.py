"""Request bodies under gunicorn as deployed: exact limits whatever the framing, and a
gzip bomb refused for the price of the limit, measured on the worker's peak RSS."""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson
import requests

from service.examples.factory import StudySpec, make_dump, make_study
from service.store.engine import make_engine
from tests.support.database import snapshot
from tests.support.gunicorn import serve

JSON = {"Content-Type": "application/dicom+json"}
MiB = 1024 * 1024


def in_pieces(body: bytes, size: int = 4096) -> Iterator[bytes]:
    """A generator body: requests sends it chunked (Transfer-Encoding: chunked)."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


def worker_pid(master_pid: int) -> int:
    (pid,) = [int(child) for task in os.listdir(f"/proc/{master_pid}/task")
              for child in Path(f"/proc/{master_pid}/task/{task}/children").read_text().split()]
    return pid


def memory_kib(pid: int, field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak resident) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_a_chunked_body_over_the_limit_is_413_like_one_with_a_length(
        tmp_path: Path, database_url: str, services: list) -> None:
    body = orjson.dumps(make_dump(make_study(StudySpec(seed=41, n_slices=2, rows=8,
                                                       columns=8))))
    limit = len(body) + 1000
    service = serve(database_url, tmp_path / "service.log", workers=1,
                    DICOM_RESOLVER_MIGRATE_ON_START="true",
                    DICOM_RESOLVER_MAX_DUMP_BYTES=str(limit))
    services.append(service)
    engine = make_engine(database_url, migrate=False)
    try:
        before = snapshot(engine)
        # Valid JSON either way: cut at the limit, it used to be parsed and stored.
        over = body[:-1] + b" " * (limit - len(body) + 1) + b"]"
        assert len(over) == limit + 1
        for data in (in_pieces(over), over):  # chunked, then with a Content-Length
            answer = requests.post(f"{service.url}/v1/dumps", data=data, headers=JSON,
                                   timeout=30)
            assert answer.status_code == 413, answer.text
            assert answer.headers["Content-Type"] == "application/problem+json"
            assert answer.json()["status"] == 413
        assert snapshot(engine) == before
        exact = over[:-2] + b"]"  # exactly the limit: accepted, chunked too
        answer = requests.post(f"{service.url}/v1/dumps", data=in_pieces(exact),
                               headers=JSON, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["received"] == 3
    finally:
        engine.dispose()


def gzip_bomb(inflated: int) -> bytes:
    deflater = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(16 * MiB)
    parts = [deflater.compress(b"[")]
    parts += [deflater.compress(zeros) for _ in range(inflated // len(zeros))]
    return b"".join([*parts, deflater.flush()])


def test_a_gzip_bomb_costs_the_worker_the_limit_not_the_bomb(
        tmp_path: Path, database_url: str, services: list) -> None:
    limit = 64 * MiB
    bomb = gzip_bomb(512 * MiB)  # ~0.5 MB inflating to 512 MiB
    service = serve(database_url, tmp_path / "service.log", workers=1,
                    DICOM_RESOLVER_MIGRATE_ON_START="true",
                    DICOM_RESOLVER_MAX_DUMP_BYTES=str(limit))
    services.append(service)
    worker = worker_pid(service.process.pid)
    requests.get(f"{service.url}/v1/studies", timeout=10)  # the worker is warm
    resident_before = memory_kib(worker, "VmRSS")
    answer = requests.post(f"{service.url}/v1/dumps", data=bomb, timeout=60,
                           headers={**JSON, "Content-Encoding": "gzip"})
    assert answer.status_code == 413
    assert "decompressed body exceeds" in answer.json()["detail"]
    growth = (memory_kib(worker, "VmHWM") - resident_before) * 1024
    # The body up to the limit, one compressed read and one inflated piece: not 512 MiB,
    # and not twice the limit (a whole-body inflate's copy).
    assert growth <= limit + 16 * MiB, f"worker grew by {growth / MiB:.0f} MiB"
    print(f"gzip bomb of {len(bomb) / MiB:.1f} MiB (512 MiB inflated), limit "
          f"{limit / MiB:.0f} MiB: worker peak RSS grew by {growth / MiB:.1f} MiB")
