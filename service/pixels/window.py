"""VOI windowing of modality values to 8-bit display values (PS3.3 C.11.2).

A window is (center, width) in modality units (HU for CT). It comes from the
caller ("c,w" or a preset name), else from the instance's Window Center/Width
(per-frame or shared Frame VOI LUT first for enhanced objects), else it spans
every value the stored bits can represent.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from service.dicom.functional_groups import frame_item, macro_items
from service.pixels.errors import PixelDataError, WindowError
from service.pixels.modality import modality_lut, rescale_for_frame

log = logging.getLogger(__name__)

# (center, width) in HU; the usual radiology presets for chest/head CT.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600, 1500),
    "mediastinum": (50, 350),
    "bone": (400, 1800),
    "brain": (40, 80),
}


def _check(center: float, width: float, origin: str) -> tuple[float, float]:
    if not (math.isfinite(center) and math.isfinite(width)):
        raise WindowError(f"window {origin}: center and width must be finite numbers")
    if width < 1:
        # C.11.2.1.2.1: the LINEAR function needs Window Width >= 1.
        raise WindowError(f"window {origin}: width must be at least 1, got {width:g}")
    return float(center), float(width)


def parse_window(spec: str | None, attrs: Mapping[str, Any], *,
                 frame: int = 1) -> tuple[float, float]:
    """(center, width) from "c,w", a preset name, or (None) the instance itself."""
    if spec is None or not spec.strip():
        return instance_window(attrs, frame) or full_range_window(attrs, frame)
    text = spec.strip()
    preset = WINDOW_PRESETS.get(text.lower())
    if preset is not None:
        return float(preset[0]), float(preset[1])
    parts = text.split(",")
    if len(parts) != 2:
        raise WindowError(
            f"window must be 'center,width' or one of {', '.join(WINDOW_PRESETS)}, got {text!r}")
    try:
        center, width = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise WindowError(f"window {text!r}: center and width must be numbers") from exc
    return _check(center, width, repr(text))


def _first(value: Any) -> float | None:
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _window_in(item: Mapping[str, Any] | None) -> tuple[float, float] | None:
    if not item:
        return None
    center, width = _first(item.get("WindowCenter")), _first(item.get("WindowWidth"))
    if center is None or width is None:
        return None
    try:
        return _check(center, width, "of the instance")
    except WindowError:
        log.info("ignoring the instance's window: width %g is below 1", width)
        return None


def instance_window(attrs: Mapping[str, Any], frame: int = 1) -> tuple[float, float] | None:
    """The first window the instance proposes for `frame`, or None."""
    for item, _source in macro_items(attrs, frame_item(attrs, frame), "FrameVOILUTSequence"):
        found = _window_in(item)
        if found:
            return found
    return _window_in(attrs)


def full_range_window(attrs: Mapping[str, Any], frame: int = 1) -> tuple[float, float]:
    """A window spanning every modality value the stored bits can produce."""
    lut = modality_lut(attrs)
    if lut is not None:
        low, high = float(lut.entries.min()), float(lut.entries.max())
    else:
        bits = attrs.get("BitsStored")
        if not isinstance(bits, int | float) or bits < 1:
            raise PixelDataError("BitsStored is missing; cannot derive a default window")
        bits = int(bits)
        if attrs.get("PixelRepresentation") == 1:
            stored_low, stored_high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        else:
            stored_low, stored_high = 0, 2**bits - 1
        rescale = rescale_for_frame(attrs, frame)
        ends = (stored_low * rescale.slope + rescale.intercept,
                stored_high * rescale.slope + rescale.intercept)
        low, high = min(ends), max(ends)
    # C.11.2.1.2.1 maps c - 0.5 - (w-1)/2 to the minimum and c - 0.5 + (w-1)/2
    # to the maximum; solve for low and high.
    width = max(high - low + 1, 1.0)
    return (low + high + 1) / 2, width


def window_to_uint8(hu: np.ndarray, center: float, width: float, *,
                    photometric_interpretation: str = "MONOCHROME2") -> np.ndarray:
    """Linear VOI function of C.11.2.1.2.1 onto 0..255 (inverted for MONOCHROME1)."""
    center, width = _check(float(center), float(width), f"{center:g},{width:g}")
    shifted_center, span = center - 0.5, width - 1
    values = np.asarray(hu)
    if span == 0:
        scaled = np.where(values <= shifted_center, 0.0, 255.0)
    else:
        # ((x - (c - 0.5)) / (w - 1) + 0.5) * 255 in float64, in place and in the
        # standard's operation order; clipping gives the two outer branches
        # (x <= lower → 0, x > upper → 255).
        scaled = np.subtract(values, shifted_center, dtype=np.float64)
        scaled /= span
        scaled += 0.5
        scaled *= 255.0
        np.clip(scaled, 0.0, 255.0, out=scaled)
    np.rint(scaled, out=scaled)
    out = scaled.astype(np.uint8)
    if photometric_interpretation == "MONOCHROME1":
        np.subtract(255, out, out=out)  # MONOCHROME1: minimum is white
    return out
