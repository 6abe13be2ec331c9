"""Requests gunicorn refuses before the app runs (request line or headers over the limits,
malformed HTTP) answer problem+json like the rest of the API, and their log lines quote
neither the request line nor its query string."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from service.gunicorn_errors import problem_bytes
from tests.support.gunicorn import serve

SECRET = "QZXREFUSED^SECRETNAME"


def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; the status, headers and body of the answer (gunicorn closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize("status", [400, 414, 431, 500, 501])
def test_problem_bytes_are_a_whole_http_answer(status: int) -> None:
    head, _, body = problem_bytes(status, "Reason").partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} Reason".encode())
    assert f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body)["status"] == status


def test_refused_requests_answer_problems_and_log_no_query(
        tmp_path: Path, database_url: str, services: list) -> None:
    service = serve(database_url, tmp_path / "service.log", workers=1,
                    DICOM_RESOLVER_MIGRATE_ON_START="true")
    services.append(service)
    query = f"/dicomweb/studies?PatientName={SECRET}&PatientID=QZX-REFUSED-1"
    host = b"Host: 127.0.0.1\r\n"
    cases = {
        414: f"GET {query}&x={'A' * 9000} HTTP/1.1\r\n".encode() + host + b"\r\n",
        431: f"GET {query} HTTP/1.1\r\n".encode() + host
        + b"".join(b"X-H%d: %s\r\n" % (i, SECRET.encode()) for i in range(120)) + b"\r\n",
        400: f"GET {query.replace('^', ' ')} HTTP/1.1\r\n".encode() + host + b"\r\n",
    }
    for expected, request in cases.items():
        status, headers, body = exchange(service.port, request)
        assert status == expected, (status, body[:200])
        assert headers["content-type"] == "application/problem+json"
        problem = json.loads(body)
        assert problem["status"] == expected and problem["detail"]
        assert "QZX" not in body.decode()
    # A long header value (one field over limit_request_field_size) too.
    status, headers, _ = exchange(service.port, f"GET /healthz HTTP/1.1\r\nX-Long: "
                                  f"{SECRET * 700}\r\n".encode() + host + b"\r\n")
    assert status in (400, 431) and headers["content-type"] == "application/problem+json"
    assert service.stop() == 0
    log = service.log
    assert "Invalid request from ip=" in log  # gunicorn did log the refusals …
    assert "QZX" not in log and "SECRETNAME" not in log  # … without what they quoted
