"""Caller authentication: API keys and Google-signed ID tokens (signed here, certs on loopback)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from service import create_app
from service.api.auth import ConfigurationError, is_loopback
from service.settings import Settings

OPEN_PATHS = ["/healthz", "/readyz", "/metrics", "/openapi.yaml", "/"]
AUDIENCE = "https://dicom-resolver.example.run.app"


@pytest.fixture
def make_client(database_url: str):  # type: ignore[no-untyped-def]
    apps = []

    def make(**overrides):  # type: ignore[no-untyped-def]
        app = create_app(Settings.load(environ={}, database_url=database_url,
                                       migrate_on_start=True, **overrides))
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["engine"].dispose()


def assert_open(client) -> None:  # type: ignore[no-untyped-def]
    for path in OPEN_PATHS:
        with client.get(path) as answer:  # "/" is a file: close it
            assert answer.status_code == 200, path


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_keys(make_client, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("# rotated 2024-05\nkey-from-file\n\n")
    client = make_client(auth="api-key", api_keys=("key-one", "key-two"),
                         api_keys_file=str(keys_file))
    missing = client.get("/v1/studies")
    assert missing.status_code == 401
    assert missing.mimetype == "application/problem+json"
    assert missing.get_json()["status"] == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="dicom-resolver"'
    wrong = client.get("/v1/studies", headers=bearer("key-on"))
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert "key-on" not in wrong.get_data(as_text=True)
    assert client.get("/v1/studies", headers={"Authorization": "Basic a2V5LW9uZQ=="}
                      ).status_code == 401
    for key in ("key-one", "key-two", "key-from-file"):
        assert client.get("/v1/studies", headers=bearer(key)).status_code == 200
    assert client.get("/no/such/route").status_code == 401  # nothing learnt unauthenticated
    assert_open(client)


@pytest.mark.parametrize("overrides", [{"auth": "api-key"}, {"auth": "google-id-token"},
                                       {"auth": "kerberos"},
                                       {"auth": "api-key", "api_keys_file": "/nonexistent"}])
def test_misconfigured_authentication_refuses_to_start(make_client, overrides) -> None:
    with pytest.raises(ConfigurationError):
        make_client(**overrides)


@pytest.mark.parametrize(("bind", "loopback"), [
    ("127.0.0.1:8080", True), ("localhost:8080", True), ("[::1]:8080", True),
    ("127.1.2.3:80", True), ("unix:/run/resolver.sock", True), ("0.0.0.0:8080", False),
    ("[::]:8080", False), ("10.0.0.5:8080", False), ("resolver.internal:8080", False)])
def test_is_loopback(bind: str, loopback: bool) -> None:
    assert is_loopback(bind) is loopback


class Google:
    """Signs ID tokens like Google's and serves the certificates on loopback."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-google")])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(1)
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=1))
                .sign(self.key, hashes.SHA256()))
        body = json.dumps({self.kid: cert.public_bytes(serialization.Encoding.PEM).decode()})
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.hits += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.certs_url = f"http://127.0.0.1:{self.server.server_port}/oauth2/v1/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, key: rsa.RSAPrivateKey | None = None, **claims: object) -> str:
        now = int(time.time())
        payload = {"iss": "https://accounts.google.com", "aud": AUDIENCE, "iat": now,
                   "exp": now + 3600, "sub": "1234567890",
                   "email": "caller@project.iam.gserviceaccount.com", "email_verified": True,
                   **claims}
        pem = (key or self.key).private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
        signer = crypt.RSASigner.from_string(pem, key_id=self.kid)
        return jwt.encode(signer, payload).decode()


@pytest.fixture
def google() -> Iterator[Google]:
    running = Google()
    yield running
    running.server.shutdown()
    running.server.server_close()


def test_google_id_tokens(make_client, google: Google) -> None:
    client = make_client(auth="google-id-token", auth_audience=AUDIENCE,
                         auth_certs_url=google.certs_url)
    assert client.get("/v1/studies", headers=bearer(google.token())).status_code == 200
    assert client.get("/v1/studies", headers=bearer(google.token())).status_code == 200
    assert google.hits == 1  # certificates fetched once, then kept
    now = int(time.time())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (google.token(aud="https://someone-else.example"),
                google.token(exp=now - 600, iat=now - 4200),
                google.token(iss="https://evil.example"),
                google.token(key=other_key),
                "not-a-jwt"):
        refused = client.get("/v1/studies", headers=bearer(bad))
        assert refused.status_code == 401, refused.get_json()
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        assert bad not in refused.get_data(as_text=True)
    assert_open(client)


def test_google_id_tokens_of_allowed_service_accounts_only(make_client, google: Google) -> None:
    client = make_client(auth="google-id-token", auth_audience=AUDIENCE,
                         auth_certs_url=google.certs_url,
                         auth_allowed_emails=("caller@project.iam.gserviceaccount.com",))
    assert client.get("/v1/studies", headers=bearer(google.token())).status_code == 200
    stranger = client.get("/v1/studies", headers=bearer(
        google.token(email="stranger@other.iam.gserviceaccount.com")))
    assert stranger.status_code == 403
    assert stranger.get_json()["type"].endswith("/forbidden")
    assert 'error="insufficient_scope"' in stranger.headers["WWW-Authenticate"]
    unverified = client.get("/v1/studies", headers=bearer(google.token(email_verified=False)))
    assert unverified.status_code == 403
