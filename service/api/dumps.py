"""POST /v1/dumps: ingest a DICOM JSON dump atomically."""

from __future__ import annotations

import zlib

import orjson
from flask import Blueprint, Response, request

from service.api import engine, json_response, settings
from service.ingest import ingest_bytes
from service.problems import PayloadTooLarge, UnsupportedMediaType

blueprint = Blueprint("dumps", __name__)

ACCEPTED_TYPES = ("application/json", "application/dicom+json")


def _read_body(limit: int) -> bytes:
    """The request body, gunzipped if so encoded, never more than `limit` bytes."""
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported; use gzip "
                                   "or none", header="Content-Encoding")
    body = request.get_data(cache=False)
    if encoding == "identity":
        return body
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise UnsupportedMediaType("body is not valid gzip data", header="Content-Encoding") \
            from None
    if len(data) > limit:
        raise PayloadTooLarge(f"decompressed body exceeds the limit of {limit} bytes")
    if not inflater.eof:
        raise UnsupportedMediaType("gzip body is truncated", header="Content-Encoding")
    return data


@blueprint.post("/v1/dumps")
def post_dump() -> Response:
    media_type = (request.mimetype or "").lower()
    if media_type not in ACCEPTED_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type must be one of {', '.join(ACCEPTED_TYPES)}, not "
            f"{media_type or 'absent'}", header="Content-Type")
    config = settings()
    if request.content_length is not None and request.content_length > config.max_dump_bytes:
        raise PayloadTooLarge(f"body exceeds the limit of {config.max_dump_bytes} bytes")
    body = _read_body(config.max_dump_bytes)
    answer = ingest_bytes(engine(), body, max_depth=config.max_sequence_depth)
    return json_response(orjson.dumps(answer))
