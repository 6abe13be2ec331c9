"""WADO-RS metadata (PS3.18 §10.4): the stored DICOM JSON of a study, series or instance.

The answer is the stored JSON joined as bytes (no parse), BulkDataURIs re-rooted onto
this service (service.dicomweb.uris). Its ETag comes from the stored content hashes and
the service's root URL (cheap: no need to hash megabytes), so a client that holds it
gets "not modified" without one instance being read; answers are kept in a BodyCache
keyed by that ETag.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import Engine

from service.dicomweb.body_cache import BodyCache
from service.dicomweb.uris import rewrite_bulkdata_uris
from service.errors import NotFound
from service.store import metadata


@dataclass(frozen=True)
class MetadataQuery:
    """A study, series (series_uid) or instance (sop_uid too), as seen from `base_url`.

    `if_none_match` holds the strong ETags the client already has ("*": any).
    """

    study_uid: str
    series_uid: str | None = None
    sop_uid: str | None = None
    base_url: str = ""
    if_none_match: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MetadataAnswer:
    """The ETag of the answer, its body (None: the client's copy is current), and when the
    level last changed."""

    etag: str
    body: bytes | None
    last_modified: dt.datetime | None


def read_metadata(engine: Engine, query: MetadataQuery, *,
                  cache: BodyCache | None) -> MetadataAnswer:
    """The metadata answer; 404 when nothing of the query is stored."""
    what = query.sop_uid or query.series_uid or query.study_uid
    index = metadata.metadata_index(engine, query.study_uid, query.series_uid, query.sop_uid)
    if not index.sop_uids:
        raise NotFound(f"{what} is not stored")
    etag = metadata_etag(index.content_hashes, query.base_url)
    if "*" in query.if_none_match or etag in query.if_none_match:
        return MetadataAnswer(etag, None, index.last_modified)
    body = cache.get(etag) if cache is not None else None
    if body is None:
        found = metadata.read_metadata(engine, query.study_uid, query.series_uid, query.sop_uid)
        if not found.instances:  # deleted since the index was read
            raise NotFound(f"{what} is not stored")
        # The ETag of what was read (an ingest may have come in between).
        etag = metadata_etag(found.content_hashes, query.base_url)
        body = rewrite_bulkdata_uris(b"[" + b",".join(found.instances) + b"]", query.base_url)
        if cache is not None:
            cache.put(etag, body)
    return MetadataAnswer(etag, body, index.last_modified)


def metadata_etag(content_hashes: list[bytes], base: str) -> str:
    """The stored content hashes stand for the content; the base URL is part of the answer
    (BulkDataURIs)."""
    return hashlib.blake2b(b"".join(content_hashes) + base.encode(), digest_size=16).hexdigest()
