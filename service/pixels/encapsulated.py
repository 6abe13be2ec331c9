"""Compressed pixel data → stored values, through pydicom's decoders (PS3.5 A.4).

The payload is the encapsulated item stream as stored in a file (Basic Offset
Table item, then fragments, optionally the sequence delimiter), or one bare
codestream when the instance has a single frame. Each frame is decoded on its
own by the decoder pydicom picks for the transfer syntax (pylibjpeg, Pillow or
pydicom's RLE), so the values equal those of Dataset.pixel_array.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
from pydicom.encaps import encapsulate, generate_frames
from pydicom.pixels import get_decoder
from pydicom.pixels.decoders.base import DecodeOptions, Decoder
from pydicom.uid import UID

from service.pixels.description import PixelDescription
from service.pixels.errors import PixelDataError
from service.pixels.native import decoder_options

log = logging.getLogger(__name__)

# (FFFE,E000) Item tag, always little endian in encapsulated data (PS3.5 A.4).
_ITEM_TAG = b"\xfe\xff\x00\xe0"


def is_item_stream(payload: bytes | bytearray | memoryview) -> bool:
    """True when `payload` starts like an encapsulated item stream."""
    return bytes(payload[:4]) == _ITEM_TAG


def codec_for(desc: PixelDescription) -> Decoder:
    """pydicom's decoder for the transfer syntax, or PixelDataError saying why not."""
    tsyntax = UID(desc.transfer_syntax_uid)
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError as exc:
        raise PixelDataError(
            f"no decoder for transfer syntax {tsyntax} ({tsyntax.name})") from exc
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies)
        raise PixelDataError(
            f"the decoder for {tsyntax.name} is not installed: {missing}")
    return decoder


def split_frames(payload: bytes | bytearray | memoryview, desc: PixelDescription,
                 indices: Sequence[int]) -> list[bytes]:
    """The codestreams of the frames at 0-based `indices`, in that order."""
    data = bytes(payload)
    if not is_item_stream(data):
        if desc.number_of_frames == 1:
            return [data for _ in indices]  # a bare codestream of the only frame
        raise PixelDataError(
            f"encapsulated pixel data of {desc.number_of_frames} frames must start with "
            "the Basic Offset Table item (FFFE,E000)")
    wanted = set(indices)
    found: dict[int, bytes] = {}
    try:
        for index, codestream in enumerate(
                generate_frames(data, number_of_frames=desc.number_of_frames)):
            if index in wanted:
                found[index] = codestream
                if len(found) == len(wanted):
                    break
    except (ValueError, KeyError) as exc:
        raise PixelDataError(f"malformed encapsulated pixel data: {exc}") from exc
    missing = sorted(wanted - found.keys())
    if missing:
        raise PixelDataError(
            f"encapsulated pixel data holds fewer frames than NumberOfFrames "
            f"{desc.number_of_frames}: frame {missing[0] + 1} not found")
    return [found[index] for index in indices]


def decode_codestreams(codestreams: Sequence[bytes], desc: PixelDescription, *,
                       as_rgb: bool = True,
                       frame_numbers: Sequence[int] | None = None) -> np.ndarray:
    """Decode single-frame codestreams into (len(codestreams), rows, columns[, samples]).

    `frame_numbers` (1-based) only label error messages.
    """
    if not codestreams:
        raise PixelDataError("no codestream to decode")
    labels = list(frame_numbers) if frame_numbers is not None else list(
        range(1, len(codestreams) + 1))
    decoder = codec_for(desc)
    options = decoder_options(desc, number_of_frames=1)
    out: np.ndarray | None = None
    started = time.perf_counter()
    for position, (codestream, label) in enumerate(zip(codestreams, labels, strict=True)):
        frame = _decode_one(decoder, codestream, options, label, as_rgb=as_rgb)
        if frame.shape != desc.frame_shape:
            raise PixelDataError(
                f"frame {label} decoded to shape {frame.shape}, expected {desc.frame_shape} "
                "from Rows, Columns and SamplesPerPixel")
        if out is None:
            out = np.empty((len(codestreams), *desc.frame_shape), dtype=frame.dtype)
        elif frame.dtype != out.dtype:
            raise PixelDataError(
                f"frame {label} decoded to {frame.dtype}, earlier frames to {out.dtype}")
        out[position] = frame
    assert out is not None  # codestreams is not empty
    log.debug("decoded %d %s frame(s) in %.1f ms", len(codestreams),
              UID(desc.transfer_syntax_uid).name, 1000 * (time.perf_counter() - started))
    return out


def _decode_one(decoder: Decoder, codestream: bytes, options: DecodeOptions, label: int,
                *, as_rgb: bool) -> np.ndarray:
    if not codestream:
        raise PixelDataError(f"frame {label}: empty codestream")
    try:
        # pydicom annotates **kwargs as DecodeOptions, meaning Unpack[DecodeOptions].
        frame, _ = decoder.as_array(
            encapsulate([codestream]), as_rgb=as_rgb, **options)  # type: ignore[arg-type]
    except (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
        raise
    except BaseException as exc:
        # Codecs raise anything on corrupt input, even a Rust panic
        # (pyo3 PanicException derives from BaseException).
        raise PixelDataError(
            f"frame {label}: cannot decode {UID(decoder.UID).name} codestream: {exc}") from exc
    return frame
