"""GET …/instances/{instance}/pixels: one frame (or all) in modality units, as npy/raw/json/png.

The representation comes from `format`, else from `Accept`, else npy. The
work is in service.usecases.pixels; this view parses the request and shapes
the answer (body, media type, X-* headers of service.api.pixel_headers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from flask import Blueprint, Response, request

from service.api import bulkdata_client, engine, params, pixel_attributes_cache
from service.api.negotiation import PATIENT_DATA_HEADERS, negotiate, parse_dtype, reject_unknown
from service.api.pixel_headers import describe_headers, numbers
from service.errors import BadRequest, NotAcceptable
from service.pixels.encode import to_json_lists, to_npy_chunks, to_png, to_raw
from service.pixels.errors import EncodeError, WindowError
from service.pixels.window import parse_window, window_to_uint8
from service.usecases.pixels import resolve_pixels
from service.usecases.types import InstancePixels, PixelQuery

blueprint = Blueprint("pixels", __name__, url_prefix="/v1/studies")

NPY, RAW, JSON, PNG = "application/x-npy", "application/octet-stream", "application/json", \
    "image/png"
FORMATS = {"npy": NPY, "raw": RAW, "json": JSON, "png": PNG}
PARAMETERS = frozenset({"frame", "format", "window", "dtype"})
# JSON is for small images: nested lists of floats are ~10× the npy size and slow to build.
JSON_MAX_VALUES = 256 * 256


@dataclass(frozen=True)
class Rendered:
    body: bytes | list[bytes]  # chunks are written one after the other, never joined
    mimetype: str
    headers: dict[str, str]


@blueprint.get("/<study>/series/<series>/instances/<instance>/pixels")
def get_pixels(study: str, series: str, instance: str) -> Response:
    args = request.args
    reject_unknown(args, PARAMETERS)
    media_type = negotiate(args.get("format"), request.headers.get("Accept"), FORMATS, NPY)
    frames = parse_frame(args.get("frame"))
    query = PixelQuery(params.uid(study, "study"), params.uid(series, "series"),
                       params.uid(instance, "instance"), frames, parse_dtype(args.get("dtype")))
    if media_type == PNG and frames is None:
        raise NotAcceptable("image/png holds one frame; ask for frame=N, or npy/raw for all.",
                            parameter="frame")
    pixels = resolve_pixels(engine(), bulkdata_client(), query,
                            attributes_cache=pixel_attributes_cache())
    rendered = render(pixels, media_type, args.get("window"), single=frames is not None)
    headers = describe_headers(pixels)
    headers.update(rendered.headers)
    headers["X-Frames"] = ",".join(str(n) for n in pixels.frames)
    headers.update(PATIENT_DATA_HEADERS)  # set directly: the header-set parser is slow
    body = rendered.body
    if isinstance(body, list):
        headers["Content-Length"] = str(sum(len(chunk) for chunk in body))
    return Response(body, mimetype=rendered.mimetype, headers=headers)


def parse_frame(value: str | None) -> tuple[int, ...] | None:
    """1-based frame number (default 1), or "all" → None."""
    if value is None or value == "":
        return (1,)
    if value.strip().lower() == "all":
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest("frame must be a 1-based frame number or 'all'",
                         parameter="frame") from None
    if number < 1:
        raise BadRequest("frame numbers start at 1", parameter="frame")
    return (number,)


def render(pixels: InstancePixels, media_type: str, window: str | None, *,
           single: bool) -> Rendered:
    """The body of the answer in `media_type`; a single frame loses the frame axis."""
    values = pixels.values[0] if single else pixels.values
    if media_type == NPY:
        return Rendered(to_npy_chunks(values), NPY, {})
    if media_type == RAW:
        raw = to_raw(values)
        return Rendered(raw.body, RAW, {"X-Shape": raw.shape, "X-Dtype": raw.dtype})
    if media_type == JSON:
        try:
            lists = to_json_lists(values, JSON_MAX_VALUES)
        except EncodeError as exc:
            raise NotAcceptable(f"{exc}.", parameter="format", max_values=JSON_MAX_VALUES) \
                from exc
        return Rendered(orjson.dumps(lists), JSON, {})
    return _png(pixels.values[0], pixels.attributes, pixels.frames[0],
                pixels.description.photometric_interpretation, window)


def _png(values: np.ndarray, attrs: Mapping[str, Any], frame: int, photometric: str,
         window: str | None) -> Rendered:
    try:
        center, width = parse_window(window, attrs, frame=frame)
        image = window_to_uint8(values, center, width, photometric_interpretation=photometric)
    except WindowError as exc:
        raise BadRequest(f"window: {exc}.", parameter="window") from exc
    try:
        body = to_png(image)
    except EncodeError as exc:
        raise NotAcceptable(f"{exc}.", parameter="format") from exc
    return Rendered(body, PNG, {"X-Window": numbers([center, width])})
