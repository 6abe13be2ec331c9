"""WADO-RS: metadata, frames and bulk data of stored instances (PS3.18 §10.4).

The views parse the request, call one use case of service.usecases.dicomweb
(metadata, frames, bulkdata) and render its answer: ETag and 304, multipart
bodies, byte ranges, caching headers.
"""

from __future__ import annotations

from flask import Response, current_app, request

from service.api import (
    METADATA_CACHE,
    bulkdata_client,
    engine,
    params,
    pixel_attributes_cache,
    settings,
)
from service.api.dicomweb import DICOM_JSON, base_url, blueprint
from service.api.dicomweb.search import check_accept_json
from service.dicomweb import wado_accept
from service.dicomweb.body_cache import BodyCache
from service.dicomweb.multipart_writer import Part, write_multipart
from service.errors import BadRequest, ServiceError
from service.usecases.dicomweb.bulkdata import retrieve_bulkdata
from service.usecases.dicomweb.frames import retrieve_frames
from service.usecases.dicomweb.metadata import read_metadata
from service.usecases.dicomweb.types import BulkDataQuery, FramesQuery, MetadataQuery


class RangeNotSatisfiable(ServiceError):
    status = 416
    title = "Range not satisfiable"
    type_suffix = "range-not-satisfiable"


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
    held = request.if_none_match
    query = MetadataQuery(study_uid, series_uid, sop_uid, base_url(),
                          frozenset(held.as_set()) | ({"*"} if held.star_tag else set()))
    answer = read_metadata(engine(), query, cache=_metadata_cache())
    if answer.body is None:
        response = Response(status=304)
    else:
        response = Response(answer.body, mimetype=DICOM_JSON)
    response.set_etag(answer.etag)
    if answer.last_modified is not None:
        response.last_modified = answer.last_modified
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _metadata_cache() -> BodyCache | None:
    """The worker's cache of metadata answers (built by create_app; None when disabled)."""
    return current_app.extensions.get(METADATA_CACHE)


# -- frames ---------------------------------------------------------------------------------

@blueprint.get("/studies/<study>/series/<series>/instances/<instance>/frames/<frame_list>")
def frames(study: str, series: str, instance: str, frame_list: str) -> Response:
    query = FramesQuery(params.uid(study, "study"), params.uid(series, "series"),
                        params.uid(instance, "instance"), parse_frame_list(frame_list),
                        request.headers.get("Accept"))
    found = retrieve_frames(engine(), bulkdata_client(), query,
                            attributes_cache=pixel_attributes_cache(),
                            transcode_upstream=settings().transcode_upstream)
    choice, bodies = found.choice, found.bodies
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


# -- bulk data ------------------------------------------------------------------------------

@blueprint.get("/studies/<study>/series/<series>/instances/<instance>/bulkdata/<path:path>")
def bulkdata(study: str, series: str, instance: str, path: str) -> Response:
    query = BulkDataQuery(params.uid(study, "study"), params.uid(series, "series"),
                          params.uid(instance, "instance"), path, request.headers.get("Accept"))
    found = retrieve_bulkdata(engine(), bulkdata_client(), query,
                              transcode_upstream=settings().transcode_upstream)
    data, syntax = found.data, found.transfer_syntax_uid
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
    content_type = wado_accept.OCTET_STREAM + (f"; transfer-syntax={syntax}" if syntax else "")
    location = request.base_url
    if found.multipart:
        written = write_multipart([Part(data, content_type,
                                        {"Content-Location": location, **extra})],
                                  wado_accept.OCTET_STREAM)
        response = Response(written.body, status=status, content_type=written.content_type)
    else:
        response = Response(data, status=status, content_type=content_type)
    response.headers.update(extra)
    response.headers["Content-Location"] = location
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
