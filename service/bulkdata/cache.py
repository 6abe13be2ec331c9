"""Caches of fetched pixel payloads: the one interface (PixelCache) and its in-memory form.

PixelCache is what BulkDataClient holds; the factory (service.create_app) picks the
implementation — PayloadCache here, or bulkdata.redis_cache.RedisPayloadCache shared by
every worker — and wraps it in observability.MeteredCache.

PayloadCache is a bounded LRU cache with single-flight fetching. Concurrent requests
for the same key (instance URL + transfer syntax) wait for the one fetch already in
progress instead of asking Google again. Entries are evicted least-recently-used first
once the byte budget is exceeded; a payload larger than the whole budget is returned
but not kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from service.sized_lru import SizedLRU

if TYPE_CHECKING:  # client.py imports this module
    from service.bulkdata.client import PixelPayload

log = logging.getLogger(__name__)


class PixelCache(Protocol):
    """A payload cache: `get_or_fetch` returns the payload under `key`, calling `fetch` (at
    most once at a time per key) only when it holds none; `stats` gives counters only
    (no payload content) and `clear` forgets every payload."""

    def get_or_fetch(self, key: Hashable,
                     fetch: Callable[[], PixelPayload]) -> PixelPayload: ...

    def stats(self) -> Mapping[str, int | str]: ...

    def clear(self) -> None: ...


class Sized(Protocol):
    data: Any
    frames: list[bytes] | None


def payload_size(payload: Sized) -> int:
    """Bytes a payload holds: its data plus separately kept frames."""
    data = payload.data
    size = data.nbytes if isinstance(data, memoryview) else len(data)
    return size + sum(len(frame) for frame in payload.frames or ())


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class PayloadCache:
    """LRU by bytes; `get_or_fetch` runs `fetch` at most once per key at a time."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        # Any payload within the whole budget is kept (a volume's slices are all alike).
        self._entries: SizedLRU[Hashable, Any] = SizedLRU(self.max_bytes,
                                                          largest=self.max_bytes)
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()  # a look-up and its flight together
        self._hits = self._misses = self._evictions = self._coalesced = 0

    def get_or_fetch(self, key: Hashable, fetch: Callable[[], Any]) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._hits += 1
                log.debug("pixel cache hit %s", key)
                return entry
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
                self._misses += 1
            else:
                self._coalesced += 1
        assert flight is not None
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.result
        try:
            result = fetch()
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            flight.result = result
            self._store(key, result)
            return result
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def _store(self, key: Hashable, payload: Any) -> None:
        size = payload_size(payload)
        if size > self.max_bytes:
            log.debug("pixel cache skips %s: %d bytes exceed the budget", key, size)
            return
        evictions = self._entries.put_sized(key, payload, size)
        with self._lock:
            self._evictions += evictions
        log.debug("pixel cache stored %s (%d bytes, %d in use, %d evicted)", key, size,
                  self._entries.size, evictions)

    def clear(self) -> None:
        self._entries.clear()

    def stats(self) -> dict[str, int]:
        """Counters for health pages and logs (keys only; no payload content)."""
        with self._lock:
            return {
                "hits": self._hits,
                "misses": self._misses,
                "evictions": self._evictions,
                "coalesced": self._coalesced,
                "entries": len(self._entries),
                "bytes": self._entries.size,
                "max_bytes": self.max_bytes,
            }
