"""WADO-RS: metadata, frames and bulk data of stored instances (PS3.18 §10.4).

Metadata is the stored DICOM JSON, joined as bytes, with BulkDataURIs re-rooted
onto this service (service.dicomweb.uris). Frames and bulk data go through the
pixel layer (service.pixelservice: store → BulkDataClient and its single-flight
cache → decode), so a multi-frame instance is fetched once and only the asked
frames are sliced or decoded.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import orjson
from flask import Response, current_app, request

from service.api import engine, params, settings
from service.api.dicomweb import DICOM_JSON, base_url, blueprint
from service.api.dicomweb.search import check_accept_json
from service.bulkdata.client import BulkDataClient, PixelPayload
from service.dicomweb import negotiate
from service.dicomweb.cache import BodyCache
from service.dicomweb.multipart import Part, write_multipart
from service.dicomweb.uris import bulkdata_path_of, rewrite_bulkdata_uris
from service.pixels.description import PixelDescription
from service.pixels.encapsulated import split_frames
from service.pixelservice import (
    PixelQuery,
    decode_payload,
    describe_pixels,
    fetch_payload,
    load_attributes,
    metadata_errors,
)
from service.problems import BadRequest, NotAcceptable, NotFound, ServiceError
from service.store import qido

METADATA_CACHE = "dicomweb_metadata_cache"  # app.extensions key of the BodyCache
NATIVE_LITTLE_ENDIAN = (negotiate.EXPLICIT_VR_LITTLE_ENDIAN, negotiate.IMPLICIT_VR_LITTLE_ENDIAN)


class RangeNotSatisfiable(ServiceError):
    status = 416
    title = "Range not satisfiable"
    type_suffix = "range-not-satisfiable"


def bulkdata_client() -> BulkDataClient:
    return current_app.extensions["bulkdata"]


# -- metadata -------------------------------------------------------------------------------

@blueprint.get("/studies/<study>/metadata")
def study_metadata(study: str) -> Response:
    return _metadata(*params.levels(study))


@blueprint.get("/studies/<study>/series/<series>/metadata")
def series_metadata(study: str, series: str) -> Response:
    return _metadata(*params.levels(study, series))


@blueprint.get("/studies/<study>/series/<series>/instances/<instance>/metadata")
def instance_metadata(study: str, series: str, instance: str) -> Response:
    return _metadata(*params.levels(study, series, instance))


def _metadata(study_uid: str, series_uid: str | None = None,
              sop_uid: str | None = None) -> Response:
    check_accept_json()
    index = qido.metadata_index(engine(), study_uid, series_uid, sop_uid)
    if not index.sop_uids:
        what = sop_uid or series_uid or study_uid
        raise NotFound(f"{what} is not stored")
    base = base_url()
    etag = _etag(index.content_hashes, base)
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        cache = _metadata_cache()
        body = cache.get(etag) if cache is not None else None
        if body is None:
            found = qido.read_metadata(engine(), study_uid, series_uid, sop_uid)
            if not found.instances:  # deleted since the index was read
                raise NotFound(f"{sop_uid or series_uid or study_uid} is not stored")
            # The ETag of what was read (an ingest may have come in between).
            etag = _etag(found.content_hashes, base)
            body = rewrite_bulkdata_uris(b"[" + b",".join(found.instances) + b"]", base)
            if cache is not None:
                cache.put(etag, body)
        response = Response(body, mimetype=DICOM_JSON)
    response.set_etag(etag)
    if index.last_modified is not None:
        response.last_modified = index.last_modified
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _etag(content_hashes: list[bytes], base: str) -> str:
    """The stored content hashes stand for the content (no need to hash megabytes); the
    base URL is part of the answer (BulkDataURIs)."""
    return hashlib.blake2b(b"".join(content_hashes) + base.encode(), digest_size=16).hexdigest()


def _metadata_cache() -> BodyCache | None:
    """The worker's cache of metadata answers (built by create_app; None when disabled)."""
    return current_app.extensions.get(METADATA_CACHE)


# -- frames ---------------------------------------------------------------------------------

@blueprint.get("/studies/<study>/series/<series>/instances/<instance>/frames/<frame_list>")
def frames(study: str, series: str, instance: str, frame_list: str) -> Response:
    query = PixelQuery(params.uid(study, "study"), params.uid(series, "series"),
                       params.uid(instance, "instance"), parse_frame_list(frame_list))
    attrs = load_attributes(engine(), query)
    desc = describe_pixels(engine(), query, attrs)
    with metadata_errors(query.sop_uid):
        desc.frame_indices(query.frames)  # 404 for a frame out of range, before any fetch
    try:
        choice = negotiate.choose_frames(request.headers.get("Accept"), desc.transfer_syntax_uid,
                                         stored_available=not settings().transcode_upstream,
                                         single_frame=len(query.frames or ()) == 1)
    except negotiate.NotAcceptableError as exc:
        raise NotAcceptable(f"Frames can be sent as {exc}.") from exc
    payload = fetch_payload(bulkdata_client(), attrs, desc, query)
    bodies = frame_bytes(payload, desc, list(query.frames or ()), choice, query.sop_uid)
    part_type = f"{choice.part_type}; transfer-syntax={choice.transfer_syntax}"
    if choice.single:
        response = Response(bodies[0], content_type=part_type)
    else:
        written = write_multipart([Part(body, part_type) for body in bodies], choice.part_type)
        response = Response(written.body, content_type=written.content_type)
    response.headers["Content-Location"] = request.base_url
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def parse_frame_list(text: str) -> tuple[int, ...]:
    """"1", "1,3,5" → frame numbers (1-based); 400 naming `frames` otherwise."""
    try:
        numbers = tuple(int(item) for item in text.split(","))
    except ValueError:
        raise BadRequest("frames must be a comma list of 1-based frame numbers",
                         parameter="frames") from None
    if not numbers or min(numbers) < 1:
        raise BadRequest("frame numbers start at 1", parameter="frames")
    return numbers


def frame_bytes(payload: PixelPayload, desc: PixelDescription, numbers: list[int],
                choice: negotiate.FrameChoice, sop_uid: str) -> list[bytes]:
    """The asked frames, as stored (choice.stored) or in Explicit VR Little Endian."""
    if payload.frames is not None:  # transcoded upstream: already Explicit VR LE frames
        return [payload.frames[n - 1] for n in numbers]
    if choice.stored:
        with metadata_errors(sop_uid):
            return split_frames(payload.data, desc, [n - 1 for n in numbers])
    if desc.transfer_syntax_uid in NATIVE_LITTLE_ENDIAN and desc.bits_allocated % 8 == 0:
        size = desc.rows * desc.columns * desc.samples_per_pixel * desc.bits_allocated // 8
        data = memoryview(payload.data)
        if len(data) >= size * desc.number_of_frames:
            return [bytes(data[(n - 1) * size:n * size]) for n in numbers]
    # Compressed, big endian, packed bits or short: decode only the asked frames.
    values = decode_payload(payload, desc, numbers, sop_uid)
    little = values.astype(values.dtype.newbyteorder("<"), copy=False)
    if desc.bits_allocated == 1:
        return [np.packbits(frame.ravel(), bitorder="little").tobytes() for frame in little]
    return [frame.tobytes() for frame in little]


# -- bulk data ------------------------------------------------------------------------------

@blueprint.get("/studies/<study>/series/<series>/instances/<instance>/bulkdata/<path:path>")
def bulkdata(study: str, series: str, instance: str, path: str) -> Response:
    study_uid, series_uid = params.uid(study, "study"), params.uid(series, "series")
    sop_uid = params.uid(instance, "instance")
    raw = qido.instance_json(engine(), study_uid, series_uid, sop_uid)
    if raw is None:
        raise NotFound(f"instance {sop_uid} of series {series_uid} is not stored")
    dataset = orjson.loads(raw)
    uri = find_bulkdata_uri(dataset, path)
    if uri is None:
        raise NotFound(f"instance {sop_uid} has no bulk data at {path}", parameter="path")
    try:
        multipart = negotiate.choose_bulkdata(request.headers.get("Accept"))
    except negotiate.NotAcceptableError as exc:
        raise NotAcceptable(f"Bulk data can be sent as {exc}.") from exc
    syntax = _transfer_syntax(dataset) if path.upper() == "7FE00010" else None
    payload = bulkdata_client().fetch_pixel_data(
        pixel_data_uri=uri, instance_uri_hint=None, study_uid=study_uid, series_uid=series_uid,
        sop_uid=sop_uid, stored_transfer_syntax=None if settings().transcode_upstream
        else syntax)
    data = bytes(payload.data)
    status, extra = 200, {}
    if request.range is not None:
        window = request.range.range_for_length(len(data))
        if window is None or request.range.units != "bytes":
            raise RangeNotSatisfiable(f"Range {request.headers.get('Range')} does not fit the "
                                      f"{len(data)} bytes", headers={
                                          "Content-Range": f"bytes */{len(data)}"})
        start, stop = window
        extra["Content-Range"] = f"bytes {start}-{stop - 1}/{len(data)}"
        data, status = data[start:stop], 206
    content_type = negotiate.OCTET_STREAM + (f"; transfer-syntax={syntax}" if syntax else "")
    location = request.base_url
    if multipart:
        written = write_multipart([Part(data, content_type,
                                        {"Content-Location": location, **extra})],
                                  negotiate.OCTET_STREAM)
        response = Response(written.body, status=status, content_type=written.content_type)
    else:
        response = Response(data, status=status, content_type=content_type)
    response.headers.update(extra)
    response.headers["Content-Location"] = location
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


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
