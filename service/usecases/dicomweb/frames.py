"""WADO-RS frames (PS3.18 §10.4): the asked frames of one instance, in a negotiated syntax.

One pass through the pixel pipeline (service.usecases.pixels): the stored metadata is
checked and the frame numbers too (404 before any fetch), the transfer syntax is
chosen from Accept against what is stored (406 before any fetch), then the instance's
Pixel Data is fetched once and only the asked frames are sliced or decoded.
"""

from __future__ import annotations

from sqlalchemy import Engine

from service.bulkdata.client import BulkDataClient
from service.dicomweb import wado_accept
from service.errors import NotAcceptable
from service.usecases.dicomweb.types import FramesQuery, RetrievedFrames
from service.usecases.pixels import DecodeAttributesCache, frame_bytes, open_pixels
from service.usecases.types import PixelQuery


def retrieve_frames(engine: Engine, client: BulkDataClient, query: FramesQuery, *,
                    transcode_upstream: bool,
                    attributes_cache: DecodeAttributesCache | None = None) -> RetrievedFrames:
    """The asked frames; 404 (frame or instance), 406 or 422 before anything is fetched."""
    pixel_query = PixelQuery(query.study_uid, query.series_uid, query.sop_uid, query.frames)
    source = open_pixels(engine, pixel_query, attributes_cache=attributes_cache)
    try:
        choice = wado_accept.choose_frames(query.accept, source.description.transfer_syntax_uid,
                                         stored_available=not transcode_upstream,
                                         single_frame=len(query.frames) == 1)
    except wado_accept.NotAcceptableError as exc:
        raise NotAcceptable(f"Frames can be sent as {exc}.") from exc
    return RetrievedFrames(frame_bytes(client, pixel_query, source, as_stored=choice.stored),
                           choice)
