"""Slow and idle clients against the service as deployed (gunicorn.conf.py's worker):
they hold sockets, never threads, and a request that does not arrive in time gets 408."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from pathlib import Path

import orjson
import requests

from service.examples.factory import StudySpec, make_dump, make_study
from service.store.engine import make_engine
from tests.support.database import snapshot
from tests.support.gunicorn import REPO, serve

WORKERS = 2
# Read, not run: running gunicorn.conf.py would set PROMETHEUS_MULTIPROC_DIR in this
# process, and every service the suite starts afterwards would share its metrics.
THREADS = int(re.search(r"^threads = (\d+)$", (REPO / "gunicorn.conf.py").read_text(),
                        re.M).group(1))
SLOW_BODY = (b"POST /v1/dumps HTTP/1.1\r\nHost: resolver\r\nContent-Type: application/json\r\n"
             b"Content-Length: 1000000\r\n\r\n[")
SLOW_HEAD = b"GET /v1/studies?PatientID=SLOW HTTP/1.1\r\nHost: resolver\r\nX-Slow: "


class Trickle:
    """Sockets that each get one more byte every `interval` seconds until stopped."""

    def __init__(self, sockets: list[socket.socket], interval: float) -> None:
        self.sockets = sockets
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            for sock in self.sockets:
                try:
                    sock.send(b" ")
                except OSError:
                    pass

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        for sock in self.sockets:
            sock.close()


def connect(port: int, first_bytes: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def test_more_slow_and_idle_clients_than_threads_leave_healthz_and_search_answering(
        tmp_path: Path, database_url: str, services: list) -> None:
    service = serve(database_url, tmp_path / "service.log", workers=WORKERS,
                    DICOM_RESOLVER_MIGRATE_ON_START="true")
    services.append(service)
    datasets = make_study(StudySpec(seed=43, n_slices=2, rows=8, columns=8,
                                    patient_id="SLOW-CLIENTS-1"))
    assert requests.post(f"{service.url}/v1/dumps", data=orjson.dumps(make_dump(datasets)),
                         headers={"Content-Type": "application/dicom+json"},
                         timeout=30).status_code == 200
    threads = WORKERS * THREADS
    # Kept-alive connections that went quiet after one request.
    kept_alive = []
    for _ in range(threads):
        sock = connect(service.port, b"GET /healthz HTTP/1.1\r\nHost: resolver\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        kept_alive.append(sock)
    trickle = Trickle([connect(service.port, SLOW_BODY) for _ in range(threads)]
                      + [connect(service.port, SLOW_HEAD) for _ in range(threads)],
                      interval=0.5)
    idle = [connect(service.port, b"") for _ in range(threads)]  # never send a byte
    timings: list[tuple[str, int, float]] = []
    session = requests.Session()  # a keep-alive client among them
    try:
        time.sleep(1)  # every slow connection has reached a worker
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            for path in ("/healthz", "/v1/studies?PatientID=SLOW-CLIENTS-1"):
                started = time.monotonic()
                answer = session.get(f"{service.url}{path}", timeout=5)
                timings.append((path, answer.status_code, time.monotonic() - started))
                if path != "/healthz":
                    assert answer.json()["total"] == 1
            fresh = time.monotonic()  # and a client on a new connection each time
            status = requests.get(f"{service.url}/healthz", timeout=5).status_code
            timings.append(("/healthz (new connection)", status, time.monotonic() - fresh))
            time.sleep(0.2)
    finally:
        trickle.stop()
        session.close()
        for sock in kept_alive + idle:
            sock.close()
    assert {status for _, status, _ in timings} == {200}
    slowest = max(timings, key=lambda timing: timing[2])
    assert slowest[2] < 1.0, slowest
    print(f"{4 * threads} slow/idle connections vs {threads} threads: {len(timings)} "
          f"requests, slowest {slowest[2] * 1000:.0f} ms ({slowest[0]})")


def test_a_request_that_does_not_arrive_in_time_gets_408_and_changes_nothing(
        tmp_path: Path, database_url: str, services: list) -> None:
    service = serve(database_url, tmp_path / "service.log", workers=1,
                    DICOM_RESOLVER_MIGRATE_ON_START="true",
                    DICOM_RESOLVER_REQUEST_READ_TIMEOUT="1.5")
    services.append(service)
    engine = make_engine(database_url, migrate=False)
    before = snapshot(engine)
    try:
        for first_bytes in (SLOW_BODY, SLOW_HEAD):
            sock = connect(service.port, first_bytes)
            trickle = Trickle([sock], interval=0.3)  # busy, but never done
            started = time.monotonic()
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            elapsed = time.monotonic() - started
            trickle.stop()
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408 "), answer
            assert b"Content-Type: application/problem+json" in head
            problem = json.loads(body)
            assert problem["status"] == 408 and "1.5 s" in problem["detail"]
            assert 1.4 <= elapsed < 4, elapsed
        assert snapshot(engine) == before
        assert requests.get(f"{service.url}/healthz", timeout=5).status_code == 200
    finally:
        engine.dispose()
