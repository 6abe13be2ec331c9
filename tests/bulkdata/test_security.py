"""The bearer token only goes to allowed places: refused URIs are never fetched, redirects
are judged before they are followed, and a pinned store path keeps a token on its store."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pydicom
import pytest

from service.errors import Unprocessable


class _Recorder(ThreadingHTTPServer):
    """A loopback server that records request headers and answers with a fixed redirect."""

    def __init__(self, location: str | None) -> None:
        self.location = location
        self.seen: list[dict[str, str]] = []
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_port}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        server: _Recorder = self.server  # type: ignore[assignment]
        server.seen.append({name.lower(): value for name, value in self.headers.items()})
        if server.location is not None:
            self.send_response(302)
            self.send_header("Location", server.location)
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def recorder():
    servers: list[_Recorder] = []

    def start(location: str | None = None) -> _Recorder:
        server = _Recorder(location)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("uri", [
    "https://evil.example/v1/x/bulkdata/7FE00010",
    "https://healthcare.googleapis.com@evil.example/v1/x/bulkdata/7FE00010",
    "http://healthcare.googleapis.com/v1/x/bulkdata/7FE00010",
    "ftp://healthcare.googleapis.com/v1/x/bulkdata/7FE00010",
])
def test_refused_uris_are_never_fetched(client, emulator, instances, fetch, uri):
    with pytest.raises(Unprocessable):
        fetch(client, emulator, instances["ct1"], pixel_data_uri=uri)
    assert emulator.requests == [] and emulator.token_requests == 0


def test_loopback_http_needs_an_allowlist_entry(make_client, make_settings, emulator, instances,
                                                fetch, recorder):
    server = recorder()
    uri = f"{server.url}/v1/x/bulkdata/7FE00010"
    with pytest.raises(Unprocessable):
        fetch(make_client(), emulator, instances["ct1"], pixel_data_uri=uri)
    assert server.seen == []
    allowed = make_client(make_settings(
        bulkdata_allowed_hosts=("healthcare.googleapis.com", f"127.0.0.1:{server.server_port}")))
    assert bytes(fetch(allowed, emulator, instances["ct1"], pixel_data_uri=uri).data) == b""
    assert server.seen[0]["authorization"].startswith("Bearer ")


def test_redirect_to_another_host_is_refused(make_client, make_settings, emulator, instances,
                                             fetch, recorder):
    target = recorder()
    redirector = recorder(location=f"http://localhost:{target.server_port}/v1/stolen")
    client = make_client(make_settings(healthcare_api_root=redirector.url))
    with pytest.raises(Unprocessable, match="allowlist"):
        fetch(client, emulator, instances["ct1"])
    assert len(redirector.seen) == 1
    assert target.seen == []


def test_redirect_within_the_emulator_is_followed(client, emulator, instances, fetch):
    ct1, ct2 = instances["ct1"], instances["ct2"]
    emulator.inject(status=307, location=emulator.bulkdata_uri(
        ct2.study_uid, ct2.series_uid, ct2.sop_uid, google=False))
    result = fetch(client, emulator, ct1)
    assert bytes(result.data) == pydicom.dcmread(ct2.path).PixelData
    assert [r.status for r in emulator.requests if "/bulkdata/" in r.path] == [307, 200]


def test_store_pinning(make_client, make_settings, emulator, instances, fetch):
    pinned = make_client(make_settings(
        bulkdata_allowed_hosts=(f"healthcare.googleapis.com/v1/{emulator.store_path}",)))
    written = instances["ct1"]
    assert bytes(fetch(pinned, emulator, written).data) == pydicom.dcmread(written.path).PixelData
    emulator.clear_log()
    with pytest.raises(Unprocessable):
        fetch(pinned, emulator, written, pixel_data_uri=emulator.bulkdata_uri(
            written.study_uid, written.series_uid, written.sop_uid).replace(
            "demo-store", "demo-store-2"))
    # A redirect from the pinned store to another store is refused too.
    emulator.inject(status=302, location=f"{emulator.url}/v1/"
                    + emulator.store_path.replace("demo-store", "other") + "/dicomWeb/x")
    with pytest.raises(Unprocessable):
        fetch(pinned, emulator, instances["ct2"])
    assert [r.status for r in emulator.requests] == [302]
