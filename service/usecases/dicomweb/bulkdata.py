"""WADO-RS bulk data (PS3.18 §10.4): the value behind one stored BulkDataURI of an instance.

The URI is found in the instance's stored DICOM JSON (any nesting) by the path
after /bulkdata/, and fetched through the bulk-data client (allowlist,
google-auth, retries, payload cache). Pixel Data is asked in its stored transfer
syntax unless the service transcodes upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine

from service.bulkdata.client import BulkDataClient
from service.dicomweb import wado_accept
from service.dicomweb.uris import bulkdata_path_of
from service.errors import NotAcceptable, NotFound
from service.store import metadata


@dataclass(frozen=True)
class BulkDataQuery:
    """The bulk data at `path` (e.g. "7FE00010") of one instance, for a client that
    accepts `accept`."""

    study_uid: str
    series_uid: str
    sop_uid: str
    path: str
    accept: str | None = None


@dataclass(frozen=True)
class BulkData:
    """The whole value; `transfer_syntax_uid` is that of Pixel Data (None for other values),
    `multipart` whether the client asked for it wrapped in multipart/related."""

    data: bytes
    transfer_syntax_uid: str | None
    multipart: bool


def retrieve_bulkdata(engine: Engine, client: BulkDataClient, query: BulkDataQuery, *,
                      transcode_upstream: bool) -> BulkData:
    """The asked value; 404 (instance or path) and 406 before anything is fetched."""
    raw = metadata.instance_json(engine, query.study_uid, query.series_uid, query.sop_uid)
    if raw is None:
        raise NotFound(f"instance {query.sop_uid} of series {query.series_uid} is not stored")
    dataset = orjson.loads(raw)
    uri = find_bulkdata_uri(dataset, query.path)
    if uri is None:
        raise NotFound(f"instance {query.sop_uid} has no bulk data at {query.path}",
                       parameter="path")
    try:
        multipart = wado_accept.choose_bulkdata(query.accept)
    except wado_accept.NotAcceptableError as exc:
        raise NotAcceptable(f"Bulk data can be sent as {exc}.") from exc
    syntax = _transfer_syntax(dataset) if query.path.upper() == "7FE00010" else None
    payload = client.fetch_pixel_data(
        pixel_data_uri=uri, instance_uri_hint=None, study_uid=query.study_uid,
        series_uid=query.series_uid, sop_uid=query.sop_uid,
        stored_transfer_syntax=None if transcode_upstream else syntax)
    return BulkData(bytes(payload.data), syntax, multipart)


def find_bulkdata_uri(dataset: dict[str, Any], path: str) -> str | None:
    """The stored BulkDataURI whose `{path}` after /bulkdata/ is `path` (any nesting)."""
    wanted = path.strip("/").upper()
    stack: list[Any] = [dataset]
    while stack:
        item = stack.pop()
        for attribute in item.values():
            if not isinstance(attribute, dict):
                continue
            uri = attribute.get("BulkDataURI")
            if isinstance(uri, str) and (bulkdata_path_of(uri) or "").strip("/").upper() \
                    == wanted:
                return uri
            if attribute.get("vr") == "SQ":
                stack.extend(v for v in attribute.get("Value") or () if isinstance(v, dict))
    return None


def _transfer_syntax(dataset: dict[str, Any]) -> str | None:
    values = (dataset.get("00020010") or {}).get("Value") or []
    return str(values[0]).strip() if values else None
