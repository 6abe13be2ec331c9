"""HTTP/1.1 through the buffering worker (service.front.worker) as deployed: what it reads
ahead of the threads must reach them intact — pipelined requests, Expect: 100-continue,
chunked and large bodies, and framing errors answered, not hung."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import orjson

from service.examples.factory import StudySpec, make_dump, make_study
from tests.support.gunicorn import serve

DUMP_HEAD = (b"POST /v1/dumps HTTP/1.1\r\nHost: resolver\r\n"
             b"Content-Type: application/dicom+json\r\n")


def exchange(port: int, *pieces: bytes) -> bytes:
    """Send `pieces` on one connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for piece in pieces:
            sock.sendall(piece)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def statuses(answer: bytes) -> list[int]:
    """The status of every answer on the connection (a body is not followed by CRLF)."""
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)]


def chunked(body: bytes, size: int) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                    for i in range(0, len(body), size)) + b"0\r\n\r\n"


def test_requests_read_ahead_reach_the_application_intact(
        tmp_path: Path, database_url: str, services: list) -> None:
    service = serve(database_url, tmp_path / "service.log", workers=1,
                    DICOM_RESOLVER_MIGRATE_ON_START="true")
    services.append(service)
    port = service.port
    # Large enough to spool to a file (over 64 KiB), with a value per instance to check.
    datasets = make_study(StudySpec(seed=47, n_slices=40, rows=8, columns=8,
                                    patient_id="FRONT-1"))
    body = orjson.dumps(make_dump(datasets))
    assert len(body) > 256 * 1024

    # Three requests in one write (pipelined), the last closing the connection.
    answer = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: r\r\n\r\n"
                            + DUMP_HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body
                            + b"GET /v1/studies?PatientID=FRONT-1 HTTP/1.1\r\nHost: r\r\n"
                              b"Connection: close\r\n\r\n")
    assert statuses(answer) == [200, 200, 200]
    assert b'"total":1' in answer and b'"created":%d' % len(datasets) in answer

    # Expect: 100-continue: the body follows the interim answer; then chunked, in pieces.
    answer = exchange(port, DUMP_HEAD + b"Expect: 100-continue\r\nConnection: close\r\n"
                            b"Content-Length: %d\r\n\r\n" % len(body), body)
    assert statuses(answer)[0] == 100 and statuses(answer)[-1] == 200
    assert b'"unchanged":%d' % len(datasets) in answer
    framed = chunked(body, 5000)
    answer = exchange(port, DUMP_HEAD + b"Transfer-Encoding: chunked\r\nConnection: close"
                            b"\r\n\r\n", framed[:70000], framed[70000:])
    assert statuses(answer) == [200] and b'"unchanged":%d' % len(datasets) in answer

    # Framing the worker cannot follow goes to gunicorn's parser or the application: an
    # answer at once, never a connection left hanging.
    answer = exchange(port, DUMP_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert statuses(answer) == [400]
    assert b"application/problem+json" in answer and b"chunked framing" in answer
    answer = exchange(port, DUMP_HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n")
    assert statuses(answer) == [400]
    # A body announced over the limit is refused at once, without waiting for it.
    for framing in (b"Content-Length: 1000000000000\r\n\r\n[",
                    b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFF\r\n["):
        answer = exchange(port, DUMP_HEAD + framing)
        assert statuses(answer) == [413]
        assert b"application/problem+json" in answer and b"exceeds the limit" in answer
