"""The root URL of RetrieveURLs and BulkDataURIs: public URL, trusted proxy headers, and the
listening port kept when a client's Host header drops it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import requests

from service.dicomweb.uris import HostError, service_root
from tests.support.gunicorn import GunicornServer

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "pacs.example.org",
             "X-Forwarded-Port": "8443"}


def root(**kwargs: Any) -> str:
    values: dict[str, Any] = {"public_base_url": None, "trust_forwarded": False,
                              "scheme": "http", "host": "127.0.0.1", "server_port": "8080",
                              "headers": {}}
    values.update(kwargs)
    return service_root(**values)


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, "http://127.0.0.1:8080"),  # dicomweb-client's Host: no port
    ({"host": "127.0.0.1:8080"}, "http://127.0.0.1:8080"),
    ({"host": "localhost", "server_port": "80"}, "http://localhost"),
    ({"host": "[::1]", "server_port": "9000"}, "http://[::1]:9000"),
    ({"host": "[::1]:9000"}, "http://[::1]:9000"),
    ({"scheme": "https", "host": "svc.example", "server_port": "443"}, "https://svc.example"),
    ({"public_base_url": "https://dicom.example/api/"}, "https://dicom.example/api"),
    # forwarded headers count only when trusted
    ({"headers": FORWARDED}, "http://127.0.0.1:8080"),
    ({"headers": FORWARDED, "trust_forwarded": True}, "https://pacs.example.org:8443"),
    ({"headers": {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.example, b"},
      "trust_forwarded": True}, "https://a.example"),
    ({"headers": {"X-Forwarded-Proto": "https"}, "trust_forwarded": True, "host": "svc",
      "server_port": "443"}, "https://svc"),
    ({"headers": {"X-Forwarded-Host": "a.example:444"}, "trust_forwarded": True},
     "http://a.example:444"),
    ({"headers": FORWARDED, "trust_forwarded": True,
      "public_base_url": "https://fixed.example"}, "https://fixed.example"),
])
def test_service_root(kwargs: dict[str, Any], expected: str) -> None:
    assert root(**kwargs) == expected


@pytest.mark.parametrize("kwargs", [
    {"host": 'evil"host'}, {"host": "a b"}, {"host": "a/b"}, {"host": ""},
    {"headers": {"X-Forwarded-Host": 'x"}'}, "trust_forwarded": True},
    {"headers": {"X-Forwarded-Proto": "javascript"}, "trust_forwarded": True},
])
def test_unusable_hosts_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(HostError):
        root(**kwargs)


def test_a_bad_host_header_is_a_400_problem(client) -> None:  # type: ignore[no-untyped-def]
    answer = client.get("/dicomweb/studies", headers={"Host": "a<b"})
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.get_json()["parameter"] == "Host"


def test_behind_a_trusted_proxy_under_gunicorn(corpus, database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """TRUST_FORWARDED_HEADERS on: the URLs follow what the proxy says (and gunicorn lets
    the scheme header through, see gunicorn.conf.py)."""
    server = GunicornServer(database_url, tmp_path / "gunicorn.log", workers=1,
                            DICOM_RESOLVER_TRUST_FORWARDED_HEADERS="true",
                            DICOM_RESOLVER_MIGRATE_ON_START="true")
    try:
        ingested = requests.post(f"{server.url}/v1/dumps", data=orjson.dumps(corpus.dump[:1]),
                                 headers={"Content-Type": "application/dicom+json"}, timeout=60)
        assert ingested.status_code == 200, ingested.text[:300]
        study_uid = corpus.dump[0]["0020000D"]["Value"][0]
        answer = requests.get(f"{server.url}/dicomweb/studies", timeout=30, headers={
            "X-Forwarded-Proto": "https", "X-Forwarded-Host": "pacs.example.org",
            "X-Forwarded-Port": "8443"})
        [study] = answer.json()
        assert study["00081190"]["Value"] == [
            f"https://pacs.example.org:8443/dicomweb/studies/{study_uid}"]
    finally:
        assert server.stop() == 0
