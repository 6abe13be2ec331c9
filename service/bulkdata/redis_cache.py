"""The pixel payload cache in Redis, shared by every worker and replica.

Implements cache.PixelCache (`get_or_fetch`, `stats`, `clear`), as cache.PayloadCache
does. Single flight holds across processes: the first to miss takes a lock key (SET NX
PX: it expires by itself if its holder dies) and fetches; the others poll for the payload instead of
asking Google again. Entries expire after a TTL; Redis' own maxmemory policy (allkeys-lru
is the one to configure) bounds the total. When Redis cannot be reached the cache steps
aside: the payload is fetched directly, and the failure is counted and logged.

Keys are digests of the cache key (instance URL + transfer syntax), so no UID or URL is
readable in Redis; values are the payload bytes with a small JSON header.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any, cast

import orjson
import redis

from service.bulkdata.client import PixelPayload

log = logging.getLogger(__name__)

# Deletes the lock only if it still holds our token (it may have expired and been taken).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) " \
           "else return 0 end"
_HEADER = struct.Struct(">I")


def encode_payload(payload: PixelPayload) -> bytes:
    frames = payload.frames
    header = orjson.dumps({"transfer_syntax_uid": payload.transfer_syntax_uid,
                           "content_type": payload.content_type,
                           "frames": [len(frame) for frame in frames] if frames else None})
    body = b"".join(frames) if frames else bytes(payload.data)
    return _HEADER.pack(len(header)) + header + body


def decode_payload(blob: bytes) -> PixelPayload:
    (length,) = _HEADER.unpack_from(blob)
    header = orjson.loads(blob[_HEADER.size:_HEADER.size + length])
    body = memoryview(blob)[_HEADER.size + length:]
    sizes = header["frames"]
    frames = None
    if sizes is not None:
        frames, offset = [], 0
        for size in sizes:
            frames.append(bytes(body[offset:offset + size]))
            offset += size
    data: bytes | memoryview = (frames[0] if len(frames) == 1 else bytes(body)) \
        if frames else body
    return PixelPayload(data=data, transfer_syntax_uid=header["transfer_syntax_uid"],
                        content_type=header["content_type"], frames=frames)


class RedisPayloadCache:
    """Pixel payloads in Redis with a cross-process single-flight lock."""

    def __init__(self, client: redis.Redis, *, prefix: str = "dicom-resolver:pixels:",
                 ttl_seconds: float = 3600.0, max_item_bytes: int = 256 * 1024 * 1024,
                 lock_seconds: float = 120.0, poll_seconds: float = 0.05) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_ms = int(ttl_seconds * 1000)
        self.max_item_bytes = max_item_bytes
        self.lock_ms = int(lock_seconds * 1000)
        self.poll_seconds = poll_seconds
        self._release = client.register_script(_RELEASE)
        self._lock = threading.Lock()
        self._counts = {"hits": 0, "misses": 0, "coalesced": 0, "errors": 0}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisPayloadCache:
        # Short timeouts: a slow cache must not be slower than asking Google.
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2),
                   **options)

    def _keys(self, key: Hashable) -> tuple[str, str]:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()
        return f"{self.prefix}payload:{digest}", f"{self.prefix}lock:{digest}"

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def get_or_fetch(self, key: Hashable, fetch: Callable[[], PixelPayload]) -> PixelPayload:
        data_key, lock_key = self._keys(key)
        try:
            return self._get_or_fetch(data_key, lock_key, fetch)
        except redis.RedisError as exc:
            self._count("errors")
            log.warning("pixel cache unavailable (%s); fetching directly", type(exc).__name__)
            return fetch()

    def _read(self, data_key: str) -> bytes | None:
        # The client is made without decode_responses: Redis answers bytes.
        return cast("bytes | None", self.client.get(data_key))

    def _get_or_fetch(self, data_key: str, lock_key: str,
                      fetch: Callable[[], PixelPayload]) -> PixelPayload:
        waited = False
        while True:
            blob = self._read(data_key)
            if blob is not None:
                self._count("coalesced" if waited else "hits")
                return decode_payload(blob)
            token = uuid.uuid4().hex
            if self.client.set(lock_key, token, nx=True, px=self.lock_ms):
                try:
                    blob = self._read(data_key)  # stored while we took the lock?
                    if blob is not None:
                        self._count("hits")
                        return decode_payload(blob)
                    self._count("misses")
                    payload = fetch()
                    self._store(data_key, payload)
                    return payload
                finally:
                    self._release(keys=[lock_key], args=[token])
            # Another worker or replica is fetching it: wait for its payload (or for its
            # lock to go, released on failure or expired with a dead holder).
            waited = True
            time.sleep(self.poll_seconds)

    def _store(self, data_key: str, payload: PixelPayload) -> None:
        blob = encode_payload(payload)
        if len(blob) > self.max_item_bytes:
            log.debug("pixel cache skips a payload of %d bytes", len(blob))
            return
        self.client.set(data_key, blob, px=self.ttl_ms)

    def clear(self) -> None:
        """Delete this cache's keys (its prefix only: the Redis may be shared)."""
        keys = list(self.client.scan_iter(match=f"{self.prefix}*", count=500))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start:start + 500])

    def stats(self) -> dict[str, int | str]:
        with self._lock:
            return {**self._counts, "backend": "redis"}
