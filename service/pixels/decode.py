"""Pixel payload bytes → stored values, for every transfer syntax we can decode.

The entry points of the pixel pipeline's first stage:

* decode_frames: the whole Pixel Data (7FE0,0010) value, as a BulkDataURI
  returns it, native or encapsulated;
* decode_frame_codestreams: frames fetched one by one from the DICOMweb frames
  resource, one native frame or one codestream per part.

Both return stored values shaped (frames, rows, columns[, samples]) with frames
in the order asked for, or raise PixelDataError; never a wrong-shaped or
partially filled array. Colour data is returned as RGB (as Dataset.pixel_array
does) unless as_rgb=False. Stored values become modality values (HU) in
hounsfield.py.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from service.pixels.description import PixelDescription
from service.pixels.encapsulated import decode_codestreams, split_frames
from service.pixels.errors import PixelDataError
from service.pixels.native import decode_native

log = logging.getLogger(__name__)

__all__ = ["decode_frame_codestreams", "decode_frames"]


def decode_frames(payload: bytes | bytearray | memoryview, desc: PixelDescription,
                  frames: Sequence[int] | None = None, *, as_rgb: bool = True) -> np.ndarray:
    """Decode the 1-based `frames` (None → all) of a whole Pixel Data value.

    Native payloads (little endian, deflated once inflated, or big endian) are
    read with numpy; encapsulated ones are split into frames and decoded with
    pydicom's decoders. Raises FrameRangeError for a frame outside
    1..NumberOfFrames and PixelDataError for a payload that does not match
    `desc` or cannot be decoded.
    """
    indices = desc.frame_indices(frames)
    if not desc.is_encapsulated:
        return decode_native(payload, desc, indices, as_rgb=as_rgb)
    codestreams = split_frames(payload, desc, indices)
    return decode_codestreams(codestreams, desc, as_rgb=as_rgb,
                              frame_numbers=[index + 1 for index in indices])


def decode_frame_codestreams(codestreams: Sequence[bytes | bytearray | memoryview],
                             desc: PixelDescription, *, as_rgb: bool = True,
                             frame_numbers: Sequence[int] | None = None) -> np.ndarray:
    """Decode frames fetched individually: one native frame or codestream each.

    `frame_numbers` (1-based) label error messages; by default 1..n.
    """
    if not codestreams:
        raise PixelDataError("no frame to decode")
    if desc.is_encapsulated:
        return decode_codestreams([bytes(part) for part in codestreams], desc,
                                  as_rgb=as_rgb, frame_numbers=frame_numbers)
    labels = list(frame_numbers) if frame_numbers is not None else list(
        range(1, len(codestreams) + 1))
    if len(labels) != len(codestreams):
        raise PixelDataError(f"{len(codestreams)} frames but {len(labels)} frame numbers")
    # Each part is a complete single-frame native payload (bit-packed frames
    # included), so decode them as one-frame instances.
    single = dataclasses.replace(desc, number_of_frames=1)
    out: np.ndarray | None = None
    for position, (part, label) in enumerate(zip(codestreams, labels, strict=True)):
        try:
            frame = decode_native(part, single, [0], as_rgb=as_rgb)
        except PixelDataError as exc:
            raise PixelDataError(f"frame {label}: {exc}") from exc
        if out is None:
            out = np.empty((len(codestreams), *frame.shape[1:]), dtype=frame.dtype)
        out[position] = frame[0]
    assert out is not None  # codestreams is not empty
    return out
