"""A thread-safe LRU bounded by the total size of its values, one per worker process.

Used for caches whose keys stand for their content (ETags, content hashes), so an entry
never goes stale and only ages out. A value larger than a quarter of the bound is not
kept: it would push out everything else for one request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class SizedLRU(Generic[K, V]):
    """At most `max_bytes` of values, each counted at the size given to `put`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
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

    def put_sized(self, key: K, value: V, size: int) -> None:
        if size * 4 > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._size -= previous[1]
            self._entries[key] = (value, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._size -= evicted

    @property
    def size(self) -> int:
        """The size held now."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)
