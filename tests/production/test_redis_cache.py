"""The Redis pixel cache: round trip, single flight across clients and processes, outages."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests

from service.bulkdata.client import PixelPayload
from service.bulkdata.redis_cache import RedisPayloadCache, decode_payload, encode_payload
from tests.support.gunicorn import serve

REDIS_VARIABLE = "DICOM_RESOLVER_TEST_REDIS_URL"


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_VARIABLE, "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"Redis tests need a server at {url} (set {REDIS_VARIABLE})")
    return url


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}:"
    yield name
    RedisPayloadCache.from_url(redis_url, prefix=name).clear()


@pytest.mark.parametrize("payload", [
    PixelPayload(data=bytes(range(256)) * 3, transfer_syntax_uid="1.2.840.10008.1.2.1",
                 content_type="application/octet-stream"),
    PixelPayload(data=b"ab" + b"cde", transfer_syntax_uid=None, content_type="image/jls",
                 frames=[b"ab", b"cde"]),
    PixelPayload(data=b"one", transfer_syntax_uid="1.2.840.10008.1.2.4.50",
                 content_type="image/jpeg", frames=[b"one"]),
])
def test_payloads_round_trip(payload: PixelPayload) -> None:
    back = decode_payload(encode_payload(payload))
    assert bytes(back.data) == bytes(payload.data)
    assert (back.transfer_syntax_uid, back.content_type, back.frames) == (
        payload.transfer_syntax_uid, payload.content_type, payload.frames)


def test_one_fetch_for_many_clients_at_once(redis_url: str, prefix: str) -> None:
    calls = []
    lock = threading.Lock()

    def fetch() -> PixelPayload:
        with lock:
            calls.append(1)
        time.sleep(0.3)
        return PixelPayload(data=b"\x01\x02" * 1000, transfer_syntax_uid="1.2.840.10008.1.2.1",
                            content_type="application/octet-stream")

    # Separate instances and connections, as in separate workers.
    caches = [RedisPayloadCache.from_url(redis_url, prefix=prefix, poll_seconds=0.01)
              for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda cache: cache.get_or_fetch(("u", "ts"), fetch), caches))
    assert len(calls) == 1
    assert {bytes(result.data) for result in results} == {b"\x01\x02" * 1000}
    assert caches[0].get_or_fetch(("u", "ts"), fetch).data == b"\x01\x02" * 1000
    assert len(calls) == 1
    keys = redis.Redis.from_url(redis_url).keys(f"{prefix}*")
    assert len(keys) == 1 and b"u" not in keys[0].split(b":", 1)[1]  # digest, no lock left


def test_a_failed_fetch_releases_the_lock(redis_url: str, prefix: str) -> None:
    cache = RedisPayloadCache.from_url(redis_url, prefix=prefix)

    def failing() -> PixelPayload:
        raise RuntimeError("upstream down")

    with pytest.raises(RuntimeError):
        cache.get_or_fetch("k", failing)
    payload = PixelPayload(data=b"x", transfer_syntax_uid=None, content_type="a/b")
    started = time.monotonic()
    assert cache.get_or_fetch("k", lambda: payload).data == b"x"
    assert time.monotonic() - started < 1  # not waiting for a stale lock to expire


def test_without_redis_payloads_are_fetched_directly() -> None:
    cache = RedisPayloadCache.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    payload = PixelPayload(data=b"x", transfer_syntax_uid=None, content_type="a/b")
    assert cache.get_or_fetch("k", lambda: payload) is payload
    assert cache.stats()["errors"] == 1


def test_replicas_share_the_cache(redis_url: str, prefix: str, emulator, pixel_study,
                                  tmp_path: Path, database_url: str, services: list) -> None:
    env = {"DICOM_RESOLVER_REDIS_URL": redis_url, "DICOM_RESOLVER_REDIS_KEY_PREFIX": prefix,
           "DICOM_RESOLVER_HEALTHCARE_API_ROOT": emulator.api_root,
           "DICOM_RESOLVER_MIGRATE_ON_START": "true",
           "GOOGLE_APPLICATION_CREDENTIALS": str(emulator.key_file), "NO_GCE_CHECK": "True"}
    replicas = [serve(database_url, tmp_path / f"{name}.log", **env) for name in "ab"]
    services.extend(replicas)
    import orjson

    from service.examples.factory import make_dump

    assert requests.post(f"{replicas[0].url}/v1/dumps",
                         data=orjson.dumps(make_dump(pixel_study.datasets)),
                         headers={"Content-Type": "application/dicom+json"},
                         timeout=60).status_code == 200
    sop = pixel_study.datasets[2].SOPInstanceUID
    emulator.clear_log()
    emulator.inject(path_substring=sop, status=None, delay=0.5)  # a slow upstream
    urls = [replica.url + pixel_study.pixels_url(2) for replica in replicas] * 3
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        answers = list(pool.map(lambda url: requests.get(url, timeout=60), urls))
    assert [answer.status_code for answer in answers] == [200] * len(urls)
    assert len({answer.content for answer in answers}) == 1
    fetched = [r.path for r in emulator.requests if sop in r.path]
    assert len(fetched) == 1, fetched  # six requests, two replicas, one upstream fetch
