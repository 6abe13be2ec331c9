"""POST /v1/dumps: ingest a DICOM JSON dump atomically."""

from __future__ import annotations

from typing import IO

import orjson
from flask import Blueprint, Response, current_app, request

from service.api import engine, json_response, settings
from service.api.bodies import read_body
from service.errors import PayloadTooLarge, UnsupportedMediaType
from service.observability import Metrics
from service.usecases.ingest import ingest_bytes

blueprint = Blueprint("dumps", __name__)

ACCEPTED_TYPES = ("application/json", "application/dicom+json")


def _read_body(limit: int) -> bytes:
    """The request body, gunzipped if so encoded, never more than `limit` bytes."""
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported; use gzip "
                                   "or none", header="Content-Encoding")
    return read_body(_body_stream(), limit, gzipped=encoding == "gzip")


def _body_stream() -> IO[bytes]:
    """The body as sent: as the server ends it, else bounded by its Content-Length.

    Werkzeug's stream for a chunked body stops quietly at MAX_CONTENT_LENGTH, which would
    cut an over-long body instead of refusing it, and turns a client gone or too slow into
    its own 400. gunicorn ends every body itself (and werkzeug's server a chunked one:
    wsgi.input_terminated), so that stream is read here, one piece past the limit to
    refuse it with 413, its errors answered by read_body.
    """
    if request.environ.get("wsgi.input_terminated"):
        return request.environ["wsgi.input"]
    return request.stream


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
    metrics: Metrics = current_app.extensions["metrics"]
    metrics.count_ingested(answer["created"], answer["updated"], answer["unchanged"])
    return json_response(orjson.dumps(answer))
