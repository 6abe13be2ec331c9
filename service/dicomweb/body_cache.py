"""Response bodies by ETag (WADO-RS metadata), bounded by their total size.

Keys are ETags that stand for the content (the stored instances' content hashes and
the base URL the BulkDataURIs were rewritten to), so an entry never goes stale: a
changed study has another ETag, and the old entry ages out. One per worker process.
"""

from __future__ import annotations

from service.sized_lru import SizedLRU


class BodyCache(SizedLRU[str, bytes]):
    """At most `max_bytes` of bodies; a body larger than a quarter of that is not kept
    (it would push out everything else for one study)."""

    def put(self, key: str, body: bytes) -> None:
        self.put_sized(key, body, len(body))
