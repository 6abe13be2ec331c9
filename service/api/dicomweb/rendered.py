"""WADO-RS rendered images and thumbnails (PS3.18 §10.4.1.1.3, §10.7).

…/instances/{sop}/rendered, …/frames/{n}/rendered: the frame as image/jpeg (the
default) or image/png. …/series/{s}/rendered and /studies/{st}/rendered: the
representative (middle) image for a single-image media type, or every image
(first frame each) as multipart/related; type="image/jpeg"|"image/png",
streamed. …/thumbnail at study, series, instance and frame level: the
representative image fitted into 128×128 unless `viewport` says otherwise.

Parameters: `window=center,width[,linear]` (PS3.18 §8.3.5.1.3), else the
instance's own window; `viewport=vw,vh` scales the image to fit, keeping its
aspect; `quality=1..100` for JPEG; `accept=` instead of the Accept header
(§8.3.3.1). The rendering itself is service.usecases.dicomweb.rendered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from flask import Response, request

from service.api import bulkdata_client, engine, params, pixel_attributes_cache, settings
from service.api.dicomweb import blueprint
from service.api.negotiation import reject_unknown
from service.dicomweb import wado_accept
from service.dicomweb.multipart_writer import new_boundary
from service.errors import BadRequest, NotAcceptable
from service.usecases.dicomweb.rendered import (
    THUMBNAIL_SIZE,
    open_rendered,
    parse_viewport,
    render_frame,
    render_representative,
)
from service.usecases.dicomweb.types import FrameRef, RenderOptions

log = logging.getLogger(__name__)

PARAMETERS = frozenset({"window", "viewport", "quality", "annotation", "accept"})


# -- rendered -------------------------------------------------------------------------------

@blueprint.get("/studies/<study>/series/<series>/instances/<instance>/rendered")
def render_instance(study: str, series: str, instance: str) -> Response:
    return _frame(_ref(study, series, instance, 1), thumbnail=False)


@blueprint.get("/studies/<study>/series/<series>/instances/<instance>/frames/<int:frame>/rendered")
def render_frame_view(study: str, series: str, instance: str, frame: int) -> Response:
    return _frame(_ref(study, series, instance, frame), thumbnail=False)


@blueprint.get("/studies/<study>/series/<series>/rendered")
def render_series(study: str, series: str) -> Response:
    return _many(params.uid(study, "study"), params.uid(series, "series"))


@blueprint.get("/studies/<study>/rendered")
def render_study(study: str) -> Response:
    return _many(params.uid(study, "study"), None)


# -- thumbnails -----------------------------------------------------------------------------

@blueprint.get("/studies/<study>/thumbnail")
def study_thumbnail(study: str) -> Response:
    return _representative(params.uid(study, "study"), None, thumbnail=True)


@blueprint.get("/studies/<study>/series/<series>/thumbnail")
def series_thumbnail(study: str, series: str) -> Response:
    return _representative(params.uid(study, "study"), params.uid(series, "series"),
                           thumbnail=True)


@blueprint.get("/studies/<study>/series/<series>/instances/<instance>/thumbnail")
def instance_thumbnail(study: str, series: str, instance: str) -> Response:
    return _frame(_ref(study, series, instance, 1), thumbnail=True)


@blueprint.get("/studies/<study>/series/<series>/instances/<instance>/frames/<int:frame>/"
               "thumbnail")
def frame_thumbnail(study: str, series: str, instance: str, frame: int) -> Response:
    return _frame(_ref(study, series, instance, frame), thumbnail=True)


# -- shared ---------------------------------------------------------------------------------

def _ref(study: str, series: str, instance: str, frame: int) -> FrameRef:
    if frame < 1:
        raise BadRequest("frame numbers start at 1", parameter="frame")
    return FrameRef(params.uid(study, "study"), params.uid(series, "series"),
                    params.uid(instance, "instance"), frame)


def _options(media_type: str, *, thumbnail: bool) -> RenderOptions:
    reject_unknown(request.args, PARAMETERS)
    viewport = parse_viewport(request.args.get("viewport"))
    return RenderOptions(media_type, params.integer(request.args, "quality", 90, 1, 100),
                         request.args.get("window"),
                         viewport or (THUMBNAIL_SIZE if thumbnail else None))


def _frame(ref: FrameRef, *, thumbnail: bool) -> Response:
    media_type, _ = _media_type(multipart=False)
    options = _options(media_type, thumbnail=thumbnail)
    return _image(render_frame(engine(), bulkdata_client(), ref, options,
                               attributes_cache=pixel_attributes_cache()), media_type)


def _representative(study_uid: str, series_uid: str | None, *, thumbnail: bool) -> Response:
    media_type, _ = _media_type(multipart=False)
    options = _options(media_type, thumbnail=thumbnail)
    return _image(render_representative(engine(), bulkdata_client(), study_uid, series_uid,
                                        options, attributes_cache=pixel_attributes_cache()),
                  media_type)


def _many(study_uid: str, series_uid: str | None) -> Response:
    media_type, multipart = _media_type(multipart=True)
    if not multipart:
        return _representative(study_uid, series_uid, thumbnail=False)
    options = _options(media_type, thumbnail=False)
    images = open_rendered(engine(), bulkdata_client(), study_uid, series_uid, options,
                           window=settings().retrieve_fetch_concurrency,
                           attributes_cache=pixel_attributes_cache())
    boundary = new_boundary()
    response = Response(_parts(images, boundary, media_type, series_uid or study_uid),
                        direct_passthrough=True,
                        content_type=f'multipart/related; type="{media_type}"; '
                                     f"boundary={boundary}")
    response.call_on_close(images.close)
    return _private(response)


def _parts(images: Iterable[bytes], boundary: str, media_type: str,
           what: str) -> Iterator[bytes]:
    marker = f"--{boundary}".encode()
    try:
        for image in images:
            if marker in image:
                raise RuntimeError("the multipart boundary occurs in a rendered image")
            yield marker + f"\r\nContent-Type: {media_type}\r\n\r\n".encode() + image + b"\r\n"
        yield marker + b"--\r\n"
    except Exception:
        log.error("rendered images of %s aborted mid-stream; the connection is closed", what)
        raise


def _image(body: bytes, media_type: str) -> Response:
    return _private(Response(body, mimetype=media_type))


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, max-age=300"
    response.vary.add("Accept")
    return response


def _media_type(*, multipart: bool) -> tuple[str, bool]:
    """(image media type, multipart?) from `accept=` or the Accept header; 406 otherwise."""
    header = request.args.get("accept") or request.headers.get("Accept")
    try:
        return wado_accept.choose_rendered(header, multipart=multipart)
    except wado_accept.NotAcceptableError as exc:
        offered = [*wado_accept.RENDERED_TYPES,
                   *(wado_accept.MULTIPART_RENDERED if multipart else ())]
        raise NotAcceptable(f"Rendered images are {exc}.", available=offered) from exc
