"""WADO-RS rendered: …/instances/{sop}/rendered and …/frames/{n}/rendered (PS3.18 §10.4.1.1.3).

image/jpeg (the default) or image/png, windowed like the pixel endpoint:
`window=center,width[,linear]` (PS3.18 §8.3.5.1.3), else the instance's own
window; `viewport=vw,vh` scales the image to fit, keeping its aspect;
`quality=1..100` for JPEG.
"""

from __future__ import annotations

import io

import numpy as np
from flask import Response, request
from PIL import Image

from service.api import engine, params
from service.api.dicomweb import blueprint
from service.api.dicomweb.retrieve import bulkdata_client
from service.api.negotiation import reject_unknown
from service.pixels.errors import WindowError
from service.pixels.window import parse_window, window_to_uint8
from service.pixelservice import PixelQuery, resolve_pixels
from service.problems import BadRequest, NotAcceptable

JPEG, PNG = "image/jpeg", "image/png"
PARAMETERS = frozenset({"window", "viewport", "quality", "annotation"})


@blueprint.get("/studies/<study>/series/<series>/instances/<instance>/rendered")
def render_instance(study: str, series: str, instance: str) -> Response:
    return _render(study, series, instance, 1)


@blueprint.get("/studies/<study>/series/<series>/instances/<instance>/frames/<int:frame>/rendered")
def render_frame(study: str, series: str, instance: str, frame: int) -> Response:
    if frame < 1:
        raise BadRequest("frame numbers start at 1", parameter="frame")
    return _render(study, series, instance, frame)


def _render(study: str, series: str, instance: str, frame: int) -> Response:
    reject_unknown(request.args, PARAMETERS)
    media_type = _media_type()
    quality = params.integer(request.args, "quality", 90, 1, 100)
    query = PixelQuery(params.uid(study, "study"), params.uid(series, "series"),
                       params.uid(instance, "instance"), (frame,))
    pixels = resolve_pixels(engine(), bulkdata_client(), query)
    values = pixels.values[0]
    if pixels.description.samples_per_pixel == 1:
        window = request.args.get("window")
        if window is not None:
            parts = [p.strip() for p in window.split(",")]
            if len(parts) == 3 and parts[2].lower() not in ("linear", ""):
                raise BadRequest("window function must be linear", parameter="window")
            window = ",".join(parts[:2])
        try:
            center, width = parse_window(window, pixels.attributes, frame=frame)
            image = window_to_uint8(
                values, center, width,
                photometric_interpretation=pixels.description.photometric_interpretation)
        except WindowError as exc:
            raise BadRequest(f"window: {exc}.", parameter="window") from exc
    else:
        image = np.clip(values, 0, 255).astype(np.uint8)
    picture = Image.fromarray(image)
    viewport = request.args.get("viewport")
    if viewport:
        picture = _fit(picture, viewport)
    out = io.BytesIO()
    if media_type == JPEG:
        picture.save(out, format="JPEG", quality=quality)
    else:
        picture.save(out, format="PNG")
    response = Response(out.getvalue(), mimetype=media_type)
    response.headers["Cache-Control"] = "private, max-age=300"
    response.vary.add("Accept")
    return response


def _media_type() -> str:
    if not request.headers.get("Accept", "").strip():
        return JPEG
    best = request.accept_mimetypes.best_match([JPEG, PNG])
    if best is None:
        raise NotAcceptable("Rendered images are image/jpeg or image/png.",
                            available=[JPEG, PNG])
    return best


def _fit(picture: Image.Image, viewport: str) -> Image.Image:
    try:
        width, height = (int(v) for v in viewport.split(",")[:2])
    except ValueError:
        raise BadRequest("viewport must be 'width,height'", parameter="viewport") from None
    if not (1 <= width <= 4096 and 1 <= height <= 4096):
        raise BadRequest("viewport sizes must be 1..4096", parameter="viewport")
    fitted = picture.copy()
    fitted.thumbnail((width, height), Image.Resampling.LANCZOS)
    return fitted
