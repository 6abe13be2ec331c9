"""Where each frame's modality transformation is defined (PS3.3 C.11.1).

Reads the keyword form: the Pixel Value Transformation of the frame's
Per-Frame Functional Group, else the Shared one, else the top-level Rescale
Slope/Intercept (C.7.6.16.2.9, C.11.1.1.2); or the Modality LUT Sequence
(C.11.1.1.1). Applying them is hounsfield.py's job.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.dicom.functional_groups import first_item, frame_item, macro_items, per_frame_items
from service.pixels.errors import FrameRangeError, PixelDataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rescale:
    """The linear modality transformation of one frame and where it was found."""

    slope: float
    intercept: float
    source: str  # "per-frame", "shared", "top-level" or "default"


@dataclass(frozen=True)
class ModalityLUT:
    """Modality LUT Sequence item (C.11.1): stored value → LUT entry."""

    first_mapped: int
    entries: np.ndarray = field(repr=False)
    lut_type: str | None = None


def _number(value: Any, keyword: str) -> float | None:
    if isinstance(value, list):  # a multi-valued DS from a lenient producer
        value = value[0] if value else None
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise PixelDataError(f"{keyword} must be a number, got {value!r}") from exc
    if not math.isfinite(number):
        raise PixelDataError(f"{keyword} must be finite, got {value!r}")
    return number


def _rescale_in(item: Mapping[str, Any] | None, source: str) -> Rescale | None:
    if item is None:
        return None
    slope = _number(item.get("RescaleSlope"), "RescaleSlope")
    intercept = _number(item.get("RescaleIntercept"), "RescaleIntercept")
    if slope is None and intercept is None:
        return None
    return Rescale(1.0 if slope is None else slope, 0.0 if intercept is None else intercept,
                   source)


def rescale_for_frame(attrs: Mapping[str, Any], frame: int) -> Rescale:
    """The rescale of 1-based `frame`: per-frame, then shared, then top level, then 1/0."""
    if frame < 1:
        raise FrameRangeError(f"frame numbers start at 1, got {frame}")
    per_frame = per_frame_items(attrs)
    if per_frame and frame > len(per_frame):
        raise PixelDataError(f"PerFrameFunctionalGroupsSequence has {len(per_frame)} items, "
                             f"no item for frame {frame}")
    for item, source in macro_items(attrs, frame_item(attrs, frame),
                                    "PixelValueTransformationSequence"):
        found = _rescale_in(item, source)
        if found:
            return found
    return _rescale_in(attrs, "top-level") or Rescale(1.0, 0.0, "default")


def modality_lut(attrs: Mapping[str, Any]) -> ModalityLUT | None:
    """The instance's Modality LUT (C.11.1.1.1), or None when it has none."""
    item = first_item(attrs, "ModalityLUTSequence")
    if item is None:
        return None
    descriptor = item.get("LUTDescriptor")
    if not isinstance(descriptor, list) or len(descriptor) != 3:
        raise PixelDataError(f"LUTDescriptor must have 3 values, got {descriptor!r}")
    entries_count = int(descriptor[0]) or 2**16  # 0 means 65536 (C.11.1.1.1)
    first_mapped = int(descriptor[1])
    if attrs.get("PixelRepresentation") == 1 and first_mapped >= 2**15:
        first_mapped -= 2**16  # the value is SS when pixels are signed, read as US
    depth = int(descriptor[2])
    if depth not in (8, 16):
        raise PixelDataError(f"LUTDescriptor bits per entry must be 8 or 16, got {depth}")
    entries = _lut_entries(item.get("LUTData"), entries_count, depth)
    entries.setflags(write=False)
    return ModalityLUT(first_mapped, entries, item.get("ModalityLUTType"))


def _lut_entries(data: Any, count: int, depth: int) -> np.ndarray:
    dtype = np.uint8 if depth == 8 else np.uint16
    if isinstance(data, Mapping):
        if "InlineBinary" not in data:
            raise PixelDataError("LUTData is behind a BulkDataURI; resolve it before use")
        try:
            raw = base64.b64decode(data["InlineBinary"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PixelDataError("LUTData InlineBinary is not valid base64") from exc
        # OW words, little endian in DICOM JSON; some writers pack 8-bit entries.
        words = np.frombuffer(raw, dtype="<u2") if len(raw) >= 2 * count else (
            np.frombuffer(raw, dtype=np.uint8))
        values = words[:count]
    elif isinstance(data, list):
        values = np.asarray(data)
    else:
        raise PixelDataError(f"LUTData is missing or malformed: {type(data).__name__}")
    if len(values) != count:
        raise PixelDataError(f"LUTData has {len(values)} entries, LUTDescriptor says {count}")
    if values.size and (values.min() < 0 or values.max() >= 2**depth):
        raise PixelDataError(f"LUTData entries exceed {depth} bits")
    return values.astype(dtype)


def apply_modality_lut(stored: np.ndarray, lut: ModalityLUT) -> np.ndarray:
    """Map stored values through `lut`; values outside it take the first/last entry."""
    index = stored.astype(np.int64) - lut.first_mapped
    np.clip(index, 0, len(lut.entries) - 1, out=index)
    return lut.entries[index]
