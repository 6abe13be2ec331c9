"""PayloadCache: LRU by bytes, single-flight, counters."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.bulkdata.cache import PayloadCache
from service.bulkdata.client import PixelPayload
from service.errors import UpstreamError


def payload(size: int, fill: int = 0) -> PixelPayload:
    return PixelPayload(data=bytes([fill]) * size, transfer_syntax_uid="1.2.840.10008.1.2.1",
                        content_type="application/octet-stream")


def test_single_flight_fetches_once_for_16_threads():
    cache = PayloadCache(1 << 20)
    calls = 0
    calls_lock = threading.Lock()
    gate = threading.Event()

    def fetch() -> PixelPayload:
        nonlocal calls
        with calls_lock:
            calls += 1
        gate.wait(2)  # keep the flight open while the others arrive
        return payload(100, 7)

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(cache.get_or_fetch, "same", fetch) for _ in range(16)]
        time.sleep(0.2)
        gate.set()
        results = [future.result() for future in futures]
    assert calls == 1
    assert all(result is results[0] for result in results)
    stats = cache.stats()
    assert stats["misses"] == 1
    assert stats["hits"] + stats["coalesced"] == 15


def test_failure_reaches_every_waiter_and_is_not_cached():
    cache = PayloadCache(1 << 20)
    gate = threading.Event()

    def failing() -> PixelPayload:
        gate.wait(2)
        raise UpstreamError("boom", upstream_status=503)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(cache.get_or_fetch, "k", failing) for _ in range(4)]
        time.sleep(0.1)
        gate.set()
        for future in futures:
            with pytest.raises(UpstreamError):
                future.result()
    assert cache.get_or_fetch("k", lambda: payload(3)).data == b"\0\0\0"


def test_lru_eviction_by_bytes():
    cache = PayloadCache(250)
    for key in ("a", "b"):
        cache.get_or_fetch(key, lambda: payload(100))
    cache.get_or_fetch("a", lambda: pytest.fail("a should be cached"))  # a is now most recent
    cache.get_or_fetch("c", lambda: payload(100))  # 300 > 250: evicts b, the least recent
    stats = cache.stats()
    assert stats["evictions"] == 1
    assert stats["bytes"] == 200 and stats["entries"] == 2
    fetched = []
    cache.get_or_fetch("b", lambda: fetched.append("b") or payload(100))
    assert fetched == ["b"]
    cache.get_or_fetch("c", lambda: pytest.fail("c should be cached"))


def test_payload_larger_than_budget_is_returned_not_kept():
    cache = PayloadCache(50)
    assert len(cache.get_or_fetch("big", lambda: payload(51)).data) == 51
    assert cache.stats()["entries"] == 0
    disabled = PayloadCache(0)
    fetched = []
    for _ in range(2):
        disabled.get_or_fetch("x", lambda: fetched.append(1) or payload(1))
    assert len(fetched) == 2


def test_frames_count_towards_the_budget():
    cache = PayloadCache(1000)
    framed = PixelPayload(data=b"x" * 300, transfer_syntax_uid=None, content_type="a/b",
                          frames=[b"x" * 150, b"x" * 150])
    cache.get_or_fetch("f", lambda: framed)
    assert cache.stats()["bytes"] == 600
