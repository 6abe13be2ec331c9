"""Retries, backoff, token refresh on 401, and upstream errors mapped to problems."""

from __future__ import annotations

import email.utils
import logging
import time

import orjson
import pydicom
import pytest

from dicom_resolver_testing.stack import free_port
from service.bulkdata.transport import RetryPolicy, retry_after_seconds
from service.errors import NotFound, UpstreamError


def bulkdata_requests(emulator):
    return [r for r in emulator.requests if "/bulkdata/" in r.path]


def test_429_honours_retry_after(client, emulator, instances, fetch):
    emulator.inject(status=429, retry_after=1)
    started = time.monotonic()
    result = fetch(client, emulator, instances["ct1"])
    assert time.monotonic() - started >= 1.0
    assert bytes(result.data) == pydicom.dcmread(instances["ct1"].path).PixelData
    assert [r.status for r in bulkdata_requests(emulator)] == [429, 200]


def test_503_without_retry_after_backs_off_then_succeeds(make_client, emulator, instances,
                                                         fetch):
    client = make_client(backoff_base=0.2, backoff_max=0.2)
    emulator.inject(status=503, count=2)
    started = time.monotonic()
    fetch(client, emulator, instances["ct2"])
    assert time.monotonic() - started >= 0.2  # two waits of at least half the 0.2 s step
    assert [r.status for r in bulkdata_requests(emulator)] == [503, 503, 200]


def test_retry_count_exhausted(client, emulator, instances, fetch):
    emulator.inject(status=503, count=50)
    with pytest.raises(UpstreamError) as caught:
        fetch(client, emulator, instances["ct1"])
    assert caught.value.extra["upstream_status"] == 503
    assert caught.value.extra["retries"] == 3
    assert caught.value.extra["upstream_error"]["status"] == "UNAVAILABLE"
    assert len(bulkdata_requests(emulator)) == 4  # the first try + upstream_max_retries


def test_retry_budget_in_time_gives_up_without_sleeping(make_client, make_settings, emulator,
                                                        instances, fetch):
    client = make_client(make_settings(upstream_retry_budget_seconds=1.0))
    emulator.inject(status=429, retry_after=30, count=5)
    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        fetch(client, emulator, instances["ct1"])
    assert time.monotonic() - started < 1.0
    assert caught.value.extra["upstream_status"] == 429
    assert len(bulkdata_requests(emulator)) == 1


def test_connection_refused_is_retried_then_502(make_client, make_settings, emulator, instances,
                                                fetch):
    closed_port = free_port()
    client = make_client(make_settings(healthcare_api_root=f"http://127.0.0.1:{closed_port}"))
    with pytest.raises(UpstreamError) as caught:
        fetch(client, emulator, instances["ct1"])
    assert caught.value.status == 502 and caught.value.extra["retries"] == 3
    assert "ConnectionError" in caught.value.detail


def test_read_timeout_is_retried(make_client, make_settings, emulator, instances, fetch):
    client = make_client(make_settings(upstream_read_timeout=0.3))
    emulator.inject(status=200, delay=1.0)
    started = time.monotonic()
    result = fetch(client, emulator, instances["ct3"])
    assert time.monotonic() - started < 1.0  # the retry did not wait for the slow answer
    assert bytes(result.data) == pydicom.dcmread(instances["ct3"].path).PixelData
    # The abandoned first request is logged only once its delayed answer is written.
    deadline = time.monotonic() + 3
    while len(bulkdata_requests(emulator)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(bulkdata_requests(emulator)) == 2


def test_401_refreshes_once_then_succeeds(client, emulator, instances, fetch):
    fetch(client, emulator, instances["ct1"])
    emulator.revoke_tokens()
    result = fetch(client, emulator, instances["ct2"])
    assert bytes(result.data) == pydicom.dcmread(instances["ct2"].path).PixelData
    assert emulator.token_requests == 2
    assert [r.status for r in bulkdata_requests(emulator)] == [200, 401, 200]


def test_401_twice_is_502_after_a_single_refresh(client, emulator, instances, fetch):
    emulator.inject(status=401, count=2)
    with pytest.raises(UpstreamError) as caught:
        fetch(client, emulator, instances["ct1"])
    assert caught.value.extra["upstream_status"] == 401
    assert emulator.token_requests == 2


def test_403_is_502_forbidden_or_missing(client, emulator, instances, fetch):
    written = instances["ct1"]
    other_store = emulator.bulkdata_uri(written.study_uid, written.series_uid, written.sop_uid
                                        ).replace("demo-store", "someone-elses-store")
    with pytest.raises(UpstreamError) as caught:
        fetch(client, emulator, written, pixel_data_uri=other_store)
    problem = caught.value.to_problem()
    assert problem["status"] == 502 and problem["upstream_status"] == 403
    assert "forbidden" in problem["detail"] and "does not exist" in problem["detail"]
    assert problem["upstream_error"]["status"] == "PERMISSION_DENIED"
    assert len(bulkdata_requests(emulator)) == 1  # 403 is not retried


def test_404_is_not_found(client, emulator, instances, fetch):
    with pytest.raises(NotFound) as caught:
        fetch(client, emulator, instances["ct1"], pixel_data_uri=emulator.bulkdata_uri(
            instances["ct1"].study_uid, instances["ct1"].series_uid, "1.2.3.4"))
    assert caught.value.status == 404 and caught.value.extra["upstream_status"] == 404
    assert caught.value.extra["upstream_error"]["status"] == "NOT_FOUND"


def test_google_error_in_an_array_is_summarized_and_capped(client, emulator, instances, fetch):
    body = orjson.dumps([{"error": {"code": 400, "message": "x" * 5000,
                                    "status": "INVALID_ARGUMENT"}}])
    emulator.inject(status=400, body=body)
    with pytest.raises(UpstreamError) as caught:
        fetch(client, emulator, instances["ct1"])
    summary = caught.value.extra["upstream_error"]
    assert summary["status"] == "INVALID_ARGUMENT" and summary["code"] == 400
    assert 300 <= len(summary["message"]) <= 301


def test_truncated_multipart_is_502(client, emulator, instances):
    written = instances["multiframe"]
    emulator.inject(status=200, truncate=True)
    with pytest.raises(UpstreamError, match="multipart"):
        client.fetch_frames(emulator.instance_url(written.study_uid, written.series_uid,
                                                  written.sop_uid), [1, 2], transfer_syntax=None)


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/json"])
def test_wrong_content_type_is_502(client, emulator, instances, fetch, content_type):
    emulator.inject(status=200, content_type=content_type)
    with pytest.raises(UpstreamError, match="content type|answered"):
        fetch(client, emulator, instances["ct2"])


def test_frames_route_must_answer_multipart(client, emulator, instances):
    written = instances["multiframe"]
    emulator.inject(status=200, content_type="application/octet-stream")
    with pytest.raises(UpstreamError, match="not multipart/related"):
        client.fetch_frames(emulator.instance_url(written.study_uid, written.series_uid,
                                                  written.sop_uid), [1], transfer_syntax=None)


def test_token_never_logged_or_quoted(caplog, client, credentials, emulator, instances, fetch):
    caplog.set_level(logging.DEBUG)
    fetch(client, emulator, instances["ct1"])
    first_token = credentials.token
    emulator.revoke_tokens()
    fetch(client, emulator, instances["ct2"])
    emulator.inject(status=503, count=10)
    with pytest.raises(UpstreamError) as caught:
        fetch(client, emulator, instances["ct3"])
    tokens = [first_token, credentials.token]
    assert all(tokens) and tokens[0] != tokens[1]
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET" in text  # the client did log its requests
    for token in tokens:
        assert token not in text
        assert token not in str(caught.value) and token not in orjson.dumps(
            caught.value.to_problem()).decode()
    assert all(r.headers.get("Authorization") in (None, "<redacted>") for r in emulator.requests)


@pytest.mark.parametrize(("value", "expected"), [
    ("7", 7.0), (" 0 ", 0.0), ("", None), (None, None), ("soon", None), ("-3", None),
])
def test_retry_after_seconds(value, expected):
    assert retry_after_seconds(value) == expected


def test_retry_after_http_date():
    now = 1_700_000_000.0
    assert retry_after_seconds(email.utils.formatdate(now + 12, usegmt=True), now=now) == 12.0
    assert retry_after_seconds(email.utils.formatdate(now - 12, usegmt=True), now=now) == 0.0


def test_backoff_grows_is_capped_and_jittered():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=4.0)
    for attempt, step in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 4.0)]:
        delays = {policy.backoff(attempt) for _ in range(20)}
        assert all(step / 2 <= delay <= step for delay in delays)
        assert len(delays) > 1
