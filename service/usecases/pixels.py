"""The pixel pipeline: a stored instance → its Pixel Data fetched → stored or modality values.

Ties the store (normalized attributes, parsed once with orjson), the bulk-data
client (allowlist, google-auth, retries, single-flight payload cache) and the
pure pixel pipeline (decode, modality transformation). Every pixel answer runs
through here: GET …/pixels (resolve_pixels), each slice of a volume
(modality_values) and WADO-RS frames (frame_bytes). No Flask here: the views
parse the request and shape the answer (service.api.pixel_headers).

    source = open_pixels(engine, query)          # 404/422 before any fetch
    values = modality_values(client, query, source)

Errors leave as service.errors errors: metadata that cannot describe the
pixels → 422, a payload that does not match it → 502 naming what differed,
a frame outside 1..NumberOfFrames → 404 naming `frame`.

What decoding needs of an instance's attributes (DECODE_KEYWORDS) and its pixel
description are kept per worker, keyed by the instance's content hash: a request
reads only that hash from the store, and a re-ingest that changes the instance
changes the hash, so an entry never goes stale (the old one ages out).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Engine

from service.bulkdata.client import BulkDataClient, PixelPayload
from service.dicom import tags
from service.dicom.transfer_syntax import NATIVE_LITTLE_ENDIAN
from service.errors import NotFound, Unprocessable, UpstreamError
from service.pixels.decode import decode_frame_codestreams, decode_frames
from service.pixels.description import PixelDescription
from service.pixels.encapsulated import split_frames
from service.pixels.errors import DtypeError, FrameRangeError, PixelDataError
from service.pixels.hounsfield import OUTPUT_DTYPES, modality_transform
from service.pixels.modality import modality_lut, rescale_for_frame
from service.sized_lru import SizedLRU
from service.store.queries import get_instance, instance_content_hash
from service.usecases.types import InstancePixels, PixelQuery, PixelSource

log = logging.getLogger(__name__)

FLOAT_PIXEL_DATA = ("Only integer Pixel Data (7FE0,0010) is supported; this instance has "
                    "Float or Double Float Pixel Data.")
# The top-level attributes the pixel path reads: the Image Pixel module (PixelDescription),
# Pixel Data and the transfer syntax (fetch), rescale and Modality LUT (modality.py), window
# (window.py), functional groups (dicom/functional_groups.py) and the geometry of the pixel
# headers (api/pixel_headers.py). Attributes holding a BulkDataURI are kept too (they name
# the instance URL). A cached entry holds only these, not the instance's patient data.
DECODE_KEYWORDS = frozenset({
    "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
    "SamplesPerPixel", "PhotometricInterpretation", "PlanarConfiguration", "NumberOfFrames",
    "TransferSyntaxUID", "PixelData", "RescaleSlope", "RescaleIntercept",
    "ModalityLUTSequence", "PixelValueTransformationSequence", "WindowCenter", "WindowWidth",
    "FrameVOILUTSequence", "PerFrameFunctionalGroupsSequence",
    "SharedFunctionalGroupsSequence", "PixelSpacing", "ImagePositionPatient",
    "ImageOrientationPatient", "PixelMeasuresSequence", "PlanePositionSequence",
    "PlaneOrientationSequence",
})
# Per worker, counted as the entries' JSON size (a CT slice: ~1 KB).
DECODE_CACHE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class DecodeAttributes:
    """An instance's DECODE_KEYWORDS attributes and its pixel description, as checked."""

    attributes: Mapping[str, Any]
    description: PixelDescription


class DecodeAttributesCache(SizedLRU[bytes, DecodeAttributes]):
    """DecodeAttributes by content hash, bounded by their attributes' JSON size; an entry
    larger than a quarter of the bound (inline pixel data) is not kept."""

    def put(self, content_hash: bytes, entry: DecodeAttributes) -> None:
        self.put_sized(content_hash, entry, len(orjson.dumps(entry.attributes)))




@contextmanager
def metadata_errors(sop_uid: str) -> Iterator[None]:
    """Pixel errors caused by the stored metadata (or the request) → 404/422 problems."""
    try:
        yield
    except FrameRangeError as exc:
        raise NotFound(f"frame: {exc}.", parameter="frame", sop_instance_uid=sop_uid) from exc
    except DtypeError as exc:
        raise Unprocessable(f"dtype: {exc}.", parameter="dtype",
                            sop_instance_uid=sop_uid) from exc
    except PixelDataError as exc:
        raise Unprocessable(f"The stored attributes cannot describe the pixel data: {exc}.",
                            sop_instance_uid=sop_uid) from exc


def load_attributes(engine: Engine, query: PixelQuery) -> tuple[dict[str, Any], bytes]:
    """The instance's normalized attributes and the content hash they were stored with;
    404 when unknown or without pixel data, 422 when they cannot describe its pixels."""
    stored = get_instance(engine, query.study_uid, query.series_uid, query.sop_uid)
    if stored is None:
        raise NotFound(f"instance {query.sop_uid} of series {query.series_uid} of study "
                       f"{query.study_uid} is not stored")
    if not stored.has_pixel_data:
        raise NotFound(f"instance {query.sop_uid} has no pixel data (no Pixel Data "
                       "(7FE0,0010) attribute); it may be a report or another non-image "
                       "object", sop_instance_uid=query.sop_uid, reason="no-pixel-data")
    attrs = orjson.loads(stored.body)
    if "PixelData" not in attrs:
        # Float or Double Float Pixel Data: said first, as such an image has no BitsStored
        # or PixelRepresentation to be missing.
        raise Unprocessable(FLOAT_PIXEL_DATA, sop_instance_uid=query.sop_uid)
    if stored.pixel_module_missing:
        missing = ", ".join(stored.pixel_module_missing)
        raise Unprocessable(
            f"The stored metadata of instance {query.sop_uid} lacks {missing} of the Image "
            "Pixel module, so its pixel data cannot be decoded.",
            sop_instance_uid=query.sop_uid, missing=list(stored.pixel_module_missing))
    return attrs, stored.content_hash


def describe_pixels(engine: Engine, query: PixelQuery,
                    attrs: Mapping[str, Any]) -> PixelDescription:
    """The Image Pixel module of the instance (422 when it cannot describe pixel data)."""
    with metadata_errors(query.sop_uid):
        desc = PixelDescription.from_attributes(attrs)
    if desc.needs_pixel_data_vr:
        desc = dataclasses.replace(desc, pixel_data_vr=pixel_data_vr(engine, query))
    return desc


def pixel_data_vr(engine: Engine, query: PixelQuery) -> str:
    """The VR (OB or OW) of the instance's Pixel Data in its JSON as ingested.

    The normalized attributes do not keep VRs; only 8-bit big endian pixel data (a retired
    transfer syntax) needs it, so only then is the ingested JSON read.
    """
    stored = get_instance(engine, query.study_uid, query.series_uid, query.sop_uid,
                          dicom_json=True)
    element = orjson.loads(stored.body).get(tags.PIXEL_DATA) if stored is not None else None
    vr = element.get("vr") if isinstance(element, dict) else None
    return vr if vr in ("OB", "OW") else "OB"


def open_pixels(engine: Engine, query: PixelQuery, *,
                attributes_cache: DecodeAttributesCache | None = None) -> PixelSource:
    """The instance's attributes and pixel description; 404/422 before any fetch."""
    decoding = decode_attributes(engine, query, attributes_cache)
    with metadata_errors(query.sop_uid):
        # before any fetch: 404 costs nothing
        indices = decoding.description.frame_indices(query.frames)
    return PixelSource(decoding.attributes, decoding.description,
                       [index + 1 for index in indices])


def decode_attributes(engine: Engine, query: PixelQuery,
                      cache: DecodeAttributesCache | None = None) -> DecodeAttributes:
    """What decoding the instance needs: from the worker's cache (built by create_app)
    when the stored instance is still the one it was read from (same content hash), else
    read, checked and kept."""
    if cache is not None:
        content_hash = instance_content_hash(engine, query.study_uid, query.series_uid,
                                             query.sop_uid)
        cached = cache.get(content_hash) if content_hash is not None else None
        if cached is not None:
            return cached
    # Unknown instances and refusals (404/422) take this path every time: never cached.
    attrs, content_hash = load_attributes(engine, query)
    desc = describe_pixels(engine, query, attrs)
    decoding = DecodeAttributes(_decode_subset(attrs), desc)
    # Hash and attributes come from one read; the VR of the rare Pixel Data that needs it
    # comes from another, which a re-ingest in between could make disagree: not kept.
    if cache is not None and not desc.needs_pixel_data_vr:
        cache.put(content_hash, decoding)
    return decoding


def _decode_subset(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {keyword: value for keyword, value in attrs.items()
            if keyword in DECODE_KEYWORDS
            or (isinstance(value, Mapping) and isinstance(value.get("BulkDataURI"), str))}


def resolve_pixels(engine: Engine, client: BulkDataClient, query: PixelQuery, *,
                   attributes_cache: DecodeAttributesCache | None = None) -> InstancePixels:
    """Fetch (or take from the cache), decode and rescale the asked frames of one instance."""
    check_dtype(query.dtype)
    source = open_pixels(engine, query, attributes_cache=attributes_cache)
    values = modality_values(client, query, source)
    attrs = source.attributes
    with metadata_errors(query.sop_uid):
        rescales = None if modality_lut(attrs) is not None else [
            rescale_for_frame(attrs, frame) for frame in source.frames]
    return InstancePixels(values, source.frames, attrs, source.description, rescales)


def check_dtype(dtype: str) -> None:
    """422 naming `dtype` unless it is one of OUTPUT_DTYPES."""
    if dtype not in OUTPUT_DTYPES:
        raise Unprocessable(f"dtype must be one of {', '.join(OUTPUT_DTYPES)}",
                            parameter="dtype")


def modality_values(client: BulkDataClient, query: PixelQuery,
                    source: PixelSource) -> np.ndarray:
    """Fetch → decode → modality transformation: the values of source.frames in query.dtype,
    shaped (frames, rows, columns[, samples])."""
    started = time.perf_counter()
    payload = fetch_payload(client, source.attributes, source.description, query)
    fetched = time.perf_counter()
    stored = decode_payload(payload, source.description, source.frames, query.sop_uid)
    with metadata_errors(query.sop_uid):
        values = modality_transform(stored, source.attributes, source.frames, query.dtype)
    log.debug("pixels of %s: %d frame(s), fetch %.1f ms, decode+rescale %.1f ms",
              query.sop_uid, len(source.frames), (fetched - started) * 1e3,
              (time.perf_counter() - fetched) * 1e3)
    return values


def frame_bytes(client: BulkDataClient, query: PixelQuery, source: PixelSource, *,
                as_stored: bool) -> list[bytes]:
    """The stored bytes of source.frames: as stored (compressed frames stay compressed) or,
    when not `as_stored`, in Explicit VR Little Endian (native, decoded where needed)."""
    desc, numbers = source.description, source.frames
    payload = fetch_payload(client, source.attributes, desc, query)
    if payload.frames is not None:  # transcoded upstream: already Explicit VR LE frames
        return [payload.frames[n - 1] for n in numbers]
    if as_stored:
        with metadata_errors(query.sop_uid):
            return split_frames(payload.data, desc, [n - 1 for n in numbers])
    if desc.transfer_syntax_uid in NATIVE_LITTLE_ENDIAN and desc.bits_allocated % 8 == 0:
        size = desc.rows * desc.columns * desc.samples_per_pixel * desc.bits_allocated // 8
        data = memoryview(payload.data)
        if len(data) >= size * desc.number_of_frames:
            return [bytes(data[(n - 1) * size:n * size]) for n in numbers]
    # Compressed, big endian, packed bits or short: decode only the asked frames.
    values = decode_payload(payload, desc, numbers, query.sop_uid)
    little = values.astype(values.dtype.newbyteorder("<"), copy=False)
    if desc.bits_allocated == 1:
        return [np.packbits(frame.ravel(), bitorder="little").tobytes() for frame in little]
    return [frame.tobytes() for frame in little]


def fetch_payload(client: BulkDataClient, attrs: Mapping[str, Any], desc: PixelDescription,
                  query: PixelQuery) -> PixelPayload:
    """Pixel Data bytes: inline in the dump, else through the client (and its cache)."""
    pixel_data = attrs.get("PixelData")
    if isinstance(pixel_data, Mapping) and "InlineBinary" in pixel_data:
        try:
            data = base64.b64decode(pixel_data["InlineBinary"], validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise Unprocessable("PixelData InlineBinary is not valid base64.",
                                sop_instance_uid=query.sop_uid) from exc
        return PixelPayload(data, desc.transfer_syntax_uid, "application/octet-stream")
    uri = pixel_data.get("BulkDataURI") if isinstance(pixel_data, Mapping) else None
    if uri is None and "PixelData" not in attrs:
        raise Unprocessable(FLOAT_PIXEL_DATA, sop_instance_uid=query.sop_uid)
    return client.fetch_pixel_data(
        pixel_data_uri=uri, instance_uri_hint=_other_bulkdata_uri(attrs),
        study_uid=query.study_uid, series_uid=query.series_uid, sop_uid=query.sop_uid,
        stored_transfer_syntax=_text(attrs.get("TransferSyntaxUID")),
        number_of_frames=desc.number_of_frames)


def decode_payload(payload: PixelPayload, desc: PixelDescription, frames: Sequence[int],
                   sop_uid: str) -> np.ndarray:
    """Stored values of `frames`, or 502 saying how the payload disagrees with the metadata."""
    syntax = payload.transfer_syntax_uid
    if syntax and syntax != desc.transfer_syntax_uid:
        # Transcoded upstream, or the metadata lacked (0002,0010): trust the answer's label.
        desc = dataclasses.replace(desc, transfer_syntax_uid=syntax)
    try:
        desc.validate()
        if payload.frames is not None:
            if len(payload.frames) != desc.number_of_frames:
                raise PixelDataError(f"the Healthcare API sent {len(payload.frames)} frames, "
                                     f"NumberOfFrames is {desc.number_of_frames}")
            return decode_frame_codestreams([payload.frames[n - 1] for n in frames], desc,
                                            frame_numbers=frames)
        return decode_frames(payload.data, desc, frames)
    except PixelDataError as exc:
        log.warning("pixel payload of %s does not match its metadata: %s", sop_uid, exc)
        raise UpstreamError(
            f"The pixel data returned by the Healthcare API does not match the instance's "
            f"metadata: {exc}.", sop_instance_uid=sop_uid,
            transfer_syntax_uid=desc.transfer_syntax_uid,
            received_bytes=len(payload.data)) from exc


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value.strip() or None if isinstance(value, str) else None


def _other_bulkdata_uri(attrs: Mapping[str, Any]) -> str | None:
    # Any other top-level BulkDataURI names the instance URL (e.g. …/bulkdata/00020001).
    for value in attrs.values():
        if isinstance(value, Mapping) and isinstance(value.get("BulkDataURI"), str):
            return value["BulkDataURI"]
    return None
