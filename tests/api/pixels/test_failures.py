"""What goes wrong between the store and the Healthcare API, and what the caller sees."""

from __future__ import annotations

import copy
import io

import numpy as np


def _entry(corpus, role: str) -> dict:
    sop = corpus.uids(role)[2]
    return next(item for item in corpus.dump if item["00080018"]["Value"] == [sop])


def test_instance_without_pixel_data_is_404(client, corpus, emulator):
    response = client.get(corpus.url("report"))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert "no pixel data" in response.json["detail"]
    assert response.json["reason"] == "no-pixel-data"
    assert emulator.requests == []


def test_unknown_instance_is_404(client, corpus):
    study, series, _ = corpus.uids("ct1")
    response = client.get(f"/v1/studies/{study}/series/{series}/instances/1.2.3/pixels")
    assert response.status_code == 404


def test_bulkdata_uri_outside_the_allowlist_is_422_and_never_fetched(make_app, adc_env, corpus,
                                                                     emulator):
    entry = copy.deepcopy(_entry(corpus, "ct1"))
    study, series, sop = corpus.uids("ct1")
    # The emulator itself, addressed directly: a real server that would answer, not allowed.
    entry["7FE00010"]["BulkDataURI"] = emulator.bulkdata_uri(study, series, sop, google=False)
    client = make_app([entry]).test_client()
    response = client.get(corpus.url("ct1"))
    assert response.status_code == 422
    assert "allowlist" in response.json["detail"]
    assert emulator.requests == [] and emulator.token_requests == 0


def test_upstream_429_then_success(client, corpus, emulator, oracle, upstream_log):
    sop = corpus.uids("ct2")[2]
    emulator.inject(sop, status=429, retry_after=0, count=1)
    response = client.get(corpus.url("ct2"))
    assert response.status_code == 200
    np.testing.assert_array_equal(np.load(io.BytesIO(response.data)),
                                  oracle(corpus.dataset("ct2")).astype(np.float32))
    assert len(upstream_log(emulator, sop)) == 2


def test_upstream_503_forever_is_502_naming_upstream_status(client, corpus, emulator):
    emulator.inject(corpus.uids("ct2")[2], status=503, count=100)
    response = client.get(corpus.url("ct2"))
    assert response.status_code == 502
    assert response.json["upstream_status"] == 503
    assert response.json["retries"] == 3


def test_upstream_403_is_502(client, corpus, emulator):
    emulator.inject(corpus.uids("ct3")[2], status=403, count=1)
    response = client.get(corpus.url("ct3"))
    assert response.status_code == 502
    assert response.json["upstream_status"] == 403
    assert "403" in response.json["detail"]


def test_upstream_404_is_404(client, corpus, emulator):
    emulator.inject(corpus.uids("ct3")[2], status=404, count=1)
    response = client.get(corpus.url("ct3"))
    assert response.status_code == 404
    assert response.json["upstream_status"] == 404


def test_truncated_multipart_is_502(make_app, adc_env, corpus, emulator):
    client = make_app(transcode_upstream=True).test_client()
    emulator.inject(corpus.uids("rle")[2], status=None, truncate=True, count=1)
    response = client.get(corpus.url("rle"))
    assert response.status_code == 502
    assert "multipart" in response.json["detail"]


def test_truncated_native_payload_is_502_naming_bytes(client, corpus, emulator):
    emulator.inject(corpus.uids("ct4")[2], status=None, truncate=True, count=1)
    response = client.get(corpus.url("ct4"))
    assert response.status_code == 502
    detail = response.json["detail"]
    assert "expected 8192 bytes" in detail and "got 4096" in detail


def test_rows_larger_than_the_file_is_502_naming_expected_and_actual(make_app, adc_env,
                                                                     corpus):
    entry = copy.deepcopy(_entry(corpus, "ct1"))
    ds = corpus.dataset("ct1")
    entry["00280010"]["Value"] = [ds.Rows * 2]
    client = make_app([entry]).test_client()
    response = client.get(corpus.url("ct1"))
    assert response.status_code == 502
    actual = len(ds.PixelData)
    assert f"expected {actual * 2} bytes" in response.json["detail"]
    assert f"got {actual}" in response.json["detail"]
    assert response.json["received_bytes"] == actual


def test_undecodable_codestream_is_502(make_app, adc_env, corpus, emulator):
    entry = copy.deepcopy(_entry(corpus, "rle"))
    # Label the RLE payload as JPEG 2000: the codestream cannot be decoded as such.
    entry["00020010"]["Value"] = ["1.2.840.10008.1.2.4.90"]
    client = make_app([entry]).test_client()
    emulator.inject(corpus.uids("rle")[2], status=None, count=1,
                    content_type="application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.90")
    response = client.get(corpus.url("rle"))
    assert response.status_code == 502
    assert response.json["transfer_syntax_uid"] == "1.2.840.10008.1.2.4.90"


def test_missing_rows_in_metadata_is_422_naming_it(make_app, adc_env, corpus, emulator):
    entry = copy.deepcopy(_entry(corpus, "ct1"))
    del entry["00280010"]
    client = make_app([entry]).test_client()
    response = client.get(corpus.url("ct1"))
    assert response.status_code == 422
    assert response.json["missing"] == ["Rows"]
    assert "Rows" in response.json["detail"]
    assert emulator.requests == []
