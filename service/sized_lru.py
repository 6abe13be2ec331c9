"""A thread-safe LRU bounded by the total size of its values, one per worker process.

Used for caches whose keys stand for their content (ETags, content hashes, pixel URLs),
so an entry never goes stale and only ages out. By default a value larger than a quarter
of the bound is not kept: it would push out everything else for one request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class SizedLRU(Generic[K, V]):
    """At most `max_bytes` of values, each counted at the size given to `put`."""

    def __init__(self, max_bytes: int, *, largest: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.largest = max_bytes // 4 if largest is None else largest  # biggest value kept
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put_sized(self, key: K, value: V, size: int) -> int:
        """Keep `value` (unless larger than `largest`); the number of entries evicted."""
        if size > self.largest:
            return 0
        evictions = 0
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._size -= previous[1]
            self._entries[key] = (value, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._size -= evicted
                evictions += 1
        return evictions

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0

    @property
    def size(self) -> int:
        """The size held now."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)
