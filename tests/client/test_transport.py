"""The client's HTTP behaviour against real loopback servers: retries on 429/503 with
Retry-After, truncated bodies, API keys and Google ID tokens checked by the service."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from dicom_resolver_client import (
    Client,
    ServiceUnavailable,
    TooManyRequests,
    TransportError,
    TruncatedBody,
    Unauthorized,
)
from dicom_resolver_client.transport import retry_after_seconds
from google.auth import crypt, jwt
from google.oauth2 import service_account

from dicom_resolver_testing.stack import free_port
from service import create_app
from service.emulator.keys import ServiceAccount
from service.settings import Settings
from tests.support.net import serving

NPY_HEADER = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }"
NPY_HEADER += b" " * (127 - len(NPY_HEADER)) + b"\n"
EMPTY_PAGE = json.dumps({"items": [], "limit": 100, "offset": 0, "total": 0}).encode()


class Scripted:
    """A loopback HTTP server answering from a script: (status, headers, body, cut) in turn;
    `cut` sends fewer bytes than Content-Length, then closes."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes, bool]]) -> None:
        self.script = list(script)
        self.seen: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.seen.append(dict(self.headers))
                status, headers, body, cut = outer.script.pop(0)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                if cut:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[:len(body) // 2] if cut else body)
                if cut:
                    self.close_connection = True

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def scripted() -> Iterator:
    servers: list[Scripted] = []

    def start(*script: tuple[int, dict[str, str], bytes, bool]) -> Scripted:
        servers.append(Scripted(list(script)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def problem(status: int, **headers: str) -> tuple[int, dict[str, str], bytes, bool]:
    body = json.dumps({"type": "about:blank", "title": "Busy", "status": status,
                       "detail": "try later"}).encode()
    return status, {"Content-Type": "application/problem+json", **headers}, body, False


def test_429_and_503_are_retried_as_retry_after_says(scripted) -> None:
    later = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20),
                                        usegmt=True)
    server = scripted(problem(429, **{"Retry-After": "3"}), problem(503, **{"Retry-After": later}),
                      problem(503), (200, {"Content-Type": "application/json"}, EMPTY_PAGE, False))
    waits: list[float] = []
    client = Client(server.url, sleep=waits.append, max_wait=60)
    assert list(client.search_studies()) == []
    assert len(server.seen) == 4
    assert waits[0] == 3.0
    assert 17 <= waits[1] <= 20  # an HTTP date, seconds from now
    assert waits[2] == 0.5 * 2**2  # no Retry-After: exponential backoff (third attempt)


def test_retries_end_and_the_problem_is_raised(scripted) -> None:
    server = scripted(*[problem(503, **{"Retry-After": "1"})] * 3)
    waits: list[float] = []
    with pytest.raises(ServiceUnavailable) as raised:
        Client(server.url, sleep=waits.append, max_retries=2).study("1.2.3")
    assert raised.value.status == 503 and raised.value.detail == "try later"
    assert waits == [1.0, 1.0] and len(server.seen) == 3
    server = scripted(problem(429, **{"Retry-After": "86400"}), problem(429))
    waits.clear()
    with pytest.raises(TooManyRequests):
        Client(server.url, sleep=waits.append, max_retries=1, max_wait=5).study("1.2.3")
    assert waits == [5]  # never longer than max_wait


def test_a_body_cut_short_is_truncated_never_a_partial_array(scripted) -> None:
    data = np.arange(16, dtype="<f4").tobytes()
    server = scripted((200, {"Content-Type": "application/x-npy"}, NPY_HEADER + data, True),
                      (200, {"Content-Type": "application/x-npy"}, NPY_HEADER + data, False))
    client = Client(server.url)
    with pytest.raises(TruncatedBody):
        client.pixels("1.2", "1.3", "1.4")
    whole = client.pixels("1.2", "1.3", "1.4")
    np.testing.assert_array_equal(whole, np.arange(16, dtype=np.float32).reshape(4, 4))
    assert all(seen.get("Accept-Encoding") == "identity" for seen in server.seen)


def test_unreachable_service_is_a_transport_error_after_get_retries() -> None:
    waits: list[float] = []
    with pytest.raises(TransportError):
        Client(f"http://127.0.0.1:{free_port()}", sleep=waits.append, max_retries=2).study("1.2")
    assert waits == [0.5, 1.0]


@pytest.mark.parametrize(("value", "expected"), [("7", 7.0), (" 0 ", 0.0), ("soon", None),
                                                 (None, None), ("", None)])
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value) == expected


def test_api_key_is_sent_as_bearer_and_checked_by_the_service(tmp_path: Path) -> None:
    app = create_app(Settings.load(environ={}, database_url=f"sqlite:///{tmp_path / 's.db'}",
                                   auth="api-key", api_keys=("key-one",)))
    try:
        with serving(app) as server:
            url = f"http://127.0.0.1:{server.server_port}"
            assert list(Client(url, api_key="key-one").search_studies()) == []
            with pytest.raises(Unauthorized) as refused:
                list(Client(url, api_key="wrong").search_studies())
            assert "wrong" not in str(refused.value)
            with pytest.raises(Unauthorized):
                list(Client(url).search_studies())
    finally:
        app.extensions["engine"].dispose()


class GoogleTokens:
    """Google's token endpoint for service-account ID tokens and its signing certificates,
    on loopback: POST /token (JWT bearer grant with target_audience) → {"id_token": …}."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-google")])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(1)
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=1)).sign(self.key, hashes.SHA256()))
        certs = json.dumps({"k1": cert.public_bytes(serialization.Encoding.PEM).decode()})
        pem = self.key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        signer = crypt.RSASigner.from_string(pem, key_id="k1")
        self.issued = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self._answer(certs.encode())

            def do_POST(self) -> None:  # noqa: N802
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                claims = jwt.decode(form["assertion"][0], verify=False)
                stamp = int(time.time())
                outer.issued += 1
                token = jwt.encode(signer, {
                    "iss": "https://accounts.google.com", "aud": claims["target_audience"],
                    "iat": stamp, "exp": stamp + 3600, "sub": "42", "email": claims["iss"],
                    "email_verified": True}).decode()
                self._answer(json.dumps({"id_token": token}).encode())

            def _answer(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_google_id_tokens_are_fetched_refreshed_and_accepted(tmp_path: Path,
                                                             monkeypatch) -> None:
    google = GoogleTokens()
    audience = "https://dicom-resolver.example"
    key_file = tmp_path / "caller.json"
    ServiceAccount.generate("caller-project").write_key_file(key_file, f"{google.url}/token")
    app = create_app(Settings.load(
        environ={}, database_url=f"sqlite:///{tmp_path / 's.db'}", auth="google-id-token",
        auth_audience=audience, auth_certs_url=f"{google.url}/certs",
        auth_allowed_emails=("dicom-resolver-emulator@caller-project.iam.gserviceaccount.com",)))
    try:
        with serving(app) as server:
            url = f"http://127.0.0.1:{server.server_port}"
            credentials = service_account.IDTokenCredentials.from_service_account_file(
                str(key_file), target_audience=audience)
            client = Client(url, id_token_audience=audience, id_token_credentials=credentials)
            assert list(client.search_studies()) == [] and list(client.search_studies()) == []
            assert google.issued == 1  # one token, reused while valid
            # Without explicit credentials google-auth finds the key file itself.
            monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
            assert list(Client(url, id_token_audience=audience).search_studies()) == []
            with pytest.raises(Unauthorized):
                list(Client(url, id_token_audience="https://other.example").search_studies())
    finally:
        google.server.shutdown()
        google.server.server_close()
        app.extensions["engine"].dispose()
