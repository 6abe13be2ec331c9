"""Rendered images and thumbnails (PS3.18 §10.4.1.1.3 Rendered, §10.7 Thumbnail), Flask-free.

A frame is resolved by the pixel use case (store → bulk-data client → decode →
modality values), windowed to 8 bits (`window=center,width[,linear]`, else the
instance's own window, else its full range) and encoded as JPEG or PNG, scaled
to fit a viewport when one is given. A series or study is represented by its
middle image (the series with the most images, for a study); a thumbnail is
that image fitted into THUMBNAIL_SIZE unless a viewport says otherwise.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image
from sqlalchemy import Engine

from service.bulkdata.client import BulkDataClient
from service.dicomweb.wado_accept import JPEG
from service.errors import BadRequest, NotFound
from service.pixels.errors import WindowError
from service.pixels.window import parse_window, window_to_uint8
from service.store import metadata
from service.store.metadata import InstanceKey
from service.usecases.bounded import OrderedPool
from service.usecases.dicomweb.types import FrameRef, RenderOptions
from service.usecases.pixels import DecodeAttributesCache, resolve_pixels
from service.usecases.types import PixelQuery

# Thumbnails fit in this square unless `viewport` asks otherwise (OHIF shows them ~128 px).
THUMBNAIL_SIZE = (128, 128)
MAX_VIEWPORT = 4096


def parse_viewport(text: str | None) -> tuple[int, int] | None:
    """`vw,vh` (PS3.18 §8.3.5.1.2; a source region after them is not supported: ignored)."""
    if not text:
        return None
    try:
        width, height = (int(v) for v in text.split(",")[:2])
    except ValueError:
        raise BadRequest("viewport must be 'width,height'", parameter="viewport") from None
    if not (1 <= width <= MAX_VIEWPORT and 1 <= height <= MAX_VIEWPORT):
        raise BadRequest(f"viewport sizes must be 1..{MAX_VIEWPORT}", parameter="viewport")
    return width, height


def render_frame(engine: Engine, client: BulkDataClient, ref: FrameRef,
                 options: RenderOptions, *,
                 attributes_cache: DecodeAttributesCache | None = None) -> bytes:
    """The frame as an encoded image (404/422 problems from the pixel use case)."""
    pixels = resolve_pixels(engine, client, PixelQuery(ref.study_uid, ref.series_uid,
                                                       ref.sop_uid, (ref.frame,)),
                            attributes_cache=attributes_cache)
    values = pixels.values[0]
    if pixels.description.samples_per_pixel == 1:
        try:
            center, width = parse_window(_linear_window(options.window), pixels.attributes,
                                         frame=ref.frame)
            image = window_to_uint8(
                values, center, width,
                photometric_interpretation=pixels.description.photometric_interpretation)
        except WindowError as exc:
            raise BadRequest(f"window: {exc}.", parameter="window") from exc
    else:
        image = np.clip(values, 0, 255).astype(np.uint8)
    return encode_image(image, options)


def encode_image(image: np.ndarray, options: RenderOptions) -> bytes:
    """8-bit grey or RGB pixels → JPEG or PNG bytes, fitted into the viewport if any."""
    picture = Image.fromarray(image)
    if options.viewport is not None:
        picture.thumbnail(options.viewport, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if options.media_type == JPEG:
        picture.save(out, format="JPEG", quality=options.quality)
    else:
        picture.save(out, format="PNG")
    return out.getvalue()


def _linear_window(window: str | None) -> str | None:
    """`center,width[,function]` → `center,width`; only the linear function is drawn."""
    if window is None:
        return None
    parts = [p.strip() for p in window.split(",")]
    if len(parts) == 3 and parts[2].lower() not in ("linear", ""):
        raise BadRequest("window function must be linear", parameter="window")
    return ",".join(parts[:2])


def image_keys(engine: Engine, study_uid: str, series_uid: str | None = None) -> list[InstanceKey]:
    """The instances with pixel data of a study or series, in store order; 404 when none."""
    keys = metadata.instance_keys(engine, study_uid, series_uid, images_only=True)
    if not keys:
        what = f"series {series_uid}" if series_uid else f"study {study_uid}"
        if not metadata.instance_keys(engine, study_uid, series_uid):
            raise NotFound(f"{what} is not stored")
        raise NotFound(f"{what} has no image to render: none of its instances has Pixel Data "
                       "(a report or another non-image object)", reason="no-pixel-data")
    return keys


def representative(keys: Sequence[InstanceKey]) -> InstanceKey:
    """The middle image of the series with the most images (the first such series on a tie)."""
    counts: dict[str, int] = {}
    for key in keys:
        counts[key.series_uid] = counts.get(key.series_uid, 0) + 1
    chosen = max(counts, key=lambda uid: counts[uid])  # dicts keep order: first on a tie
    in_series = [key for key in keys if key.series_uid == chosen]
    return in_series[(len(in_series) - 1) // 2]


def render_representative(engine: Engine, client: BulkDataClient, study_uid: str,
                          series_uid: str | None, options: RenderOptions, *,
                          attributes_cache: DecodeAttributesCache | None = None) -> bytes:
    key = representative(image_keys(engine, study_uid, series_uid))
    return render_frame(engine, client, FrameRef(study_uid, key.series_uid, key.sop_uid),
                        options, attributes_cache=attributes_cache)


def open_rendered(engine: Engine, client: BulkDataClient, study_uid: str,
                  series_uid: str | None, options: RenderOptions, *, window: int,
                  attributes_cache: DecodeAttributesCache | None = None
                  ) -> OrderedPool[InstanceKey, bytes]:
    """Every image of a study or series (its first frame) rendered, `window` at a time."""
    keys = image_keys(engine, study_uid, series_uid)

    def work(key: InstanceKey) -> bytes:
        return render_frame(engine, client, FrameRef(study_uid, key.series_uid, key.sop_uid),
                            options, attributes_cache=attributes_cache)

    return OrderedPool(work, keys, window, name="render").start()
