"""Credentials (found, absent, never leaked) and single-flight fetching under concurrency."""

from __future__ import annotations

import io
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import orjson
from google.oauth2 import service_account

from service import create_app
from service.bulkdata.credentials import HEALTHCARE_SCOPE
from service.usecases.ingest import ingest_bytes


def test_app_finds_credentials_through_google_application_credentials(
        make_settings, adc_env, corpus, emulator, oracle):
    # No injected client: create_app builds its own, and google.auth.default() finds the
    # emulator's service-account key file through GOOGLE_APPLICATION_CREDENTIALS.
    app = create_app(make_settings())
    try:
        ingest_bytes(app.extensions["engine"], orjson.dumps(corpus.dump))
        response = app.test_client().get(corpus.url("ct1"))
        assert response.status_code == 200, response.json
        np.testing.assert_array_equal(np.load(io.BytesIO(response.data)),
                                      oracle(corpus.dataset("ct1")).astype(np.float32))
        assert emulator.token_requests == 1
    finally:
        app.extensions["bulkdata"].close()
        app.extensions["engine"].dispose()


def test_no_credentials_is_503_while_metadata_answers(make_app, corpus, emulator, monkeypatch,
                                                      tmp_path):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    client = make_app().test_client()
    assert client.get("/v1/studies").status_code == 200
    response = client.get(corpus.url("ct1"))
    assert response.status_code == 503
    assert response.json["reason"] == "no-credentials"
    assert "GOOGLE_APPLICATION_CREDENTIALS" in response.json["detail"]
    assert client.get(corpus.url("report")).status_code == 404  # no fetch needed to know
    assert emulator.requests == []


def test_concurrent_requests_for_one_instance_fetch_once(app, corpus, emulator, oracle,
                                                         upstream_log):
    sop = corpus.uids("ct3")[2]
    # Hold the first answer back so that the other requests arrive while it is in flight.
    emulator.inject(sop, status=None, delay=0.3, count=1)
    url = corpus.url("ct3")

    def get(_: int):  # type: ignore[no-untyped-def]
        return app.test_client().get(url)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(get, range(8)))
    expected = oracle(corpus.dataset("ct3")).astype(np.float32)
    for response in responses:
        assert response.status_code == 200
        np.testing.assert_array_equal(np.load(io.BytesIO(response.data)), expected)
    assert len(upstream_log(emulator, sop)) == 1
    stats = app.extensions["bulkdata"].cache.stats()
    assert stats["misses"] == 1 and stats["coalesced"] + stats["hits"] == 7
    assert stats["coalesced"] >= 1


def test_bearer_token_never_in_bodies_or_logs(make_app, adc_env, corpus, emulator, caplog):
    credentials = service_account.Credentials.from_service_account_file(
        str(emulator.key_file), scopes=[HEALTHCARE_SCOPE])
    client = make_app(credentials=credentials).test_client()
    caplog.set_level(logging.DEBUG)
    sop = corpus.uids("ct2")[2]
    emulator.inject(sop, status=403, count=1)
    emulator.inject(corpus.uids("ct3")[2], status=503, count=100)
    emulator.inject(corpus.uids("ct4")[2], status=None, truncate=True, count=1)
    responses = [client.get(corpus.url(role, format=fmt))
                 for role in ("ct1", "ct2", "ct3", "ct4", "rle")
                 for fmt in ("npy", "json")]
    assert {response.status_code for response in responses} == {200, 502}
    token = credentials.token
    assert token and token.startswith("emu-")
    for response in responses:
        assert token.encode() not in response.data
        assert all(token not in value for _, value in response.headers.items())
    assert caplog.records, "the test must see the service's log records"
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token not in str(record.args)
