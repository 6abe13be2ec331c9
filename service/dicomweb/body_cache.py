"""A thread-safe LRU of response bodies bounded by their total size (WADO-RS metadata).

Keys are ETags that stand for the content (the stored instances' content hashes and
the base URL the BulkDataURIs were rewritten to), so an entry never goes stale: a
changed study has another ETag, and the old entry ages out. One per worker process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict


class BodyCache:
    """At most `max_bytes` of bodies; a body larger than a quarter of that is not kept
    (it would push out everything else for one study)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) * 4 > self.max_bytes:
            return
        with self._lock:
            previous = self._bodies.pop(key, None)
            if previous is not None:
                self._size -= len(previous)
            self._bodies[key] = body
            self._size += len(body)
            while self._size > self.max_bytes:
                _, evicted = self._bodies.popitem(last=False)
                self._size -= len(evicted)

    @property
    def size(self) -> int:
        """Bytes held now."""
        return self._size

    def __len__(self) -> int:
        return len(self._bodies)
