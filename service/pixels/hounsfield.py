"""Stored values → modality values (Hounsfield units for CT), PS3.3 C.11.1.

Each frame gets its own transformation (modality.py finds it: per-frame, shared
or top-level rescale, or a Modality LUT). Output is float unless an integer
dtype provably holds every value: nothing is cast silently.

Windowing (C.11.2) lives in window.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from service.pixels.buffers import filled_bytes_array
from service.pixels.errors import DtypeError, PixelDataError
from service.pixels.modality import (
    Rescale,
    apply_modality_lut,
    modality_lut,
    rescale_for_frame,
)

log = logging.getLogger(__name__)

# What to_hu and modality_transform compute in.
MODALITY_DTYPES = ("float32", "float64", "int16")
# What the pixel and volume endpoints answer in: float64 is refused there.
OUTPUT_DTYPES = ("float32", "int16")
_INT16 = np.iinfo(np.int16)


def _check_dtype(dtype: str) -> None:
    if dtype not in MODALITY_DTYPES:
        raise DtypeError(f"dtype must be one of {', '.join(MODALITY_DTYPES)}, got {dtype!r}")


def to_hu(stored: np.ndarray, rescale: Rescale, dtype: str = "float32") -> np.ndarray:
    """stored × slope + intercept in `dtype`.

    Floats are computed in float64 and rounded once, so float32 output equals
    pydicom's float64 result rounded to float32. "int16" is refused with
    DtypeError unless slope and intercept are integers and every value fits.
    The values are written straight into the memory of a bytes object (read-only
    array), which an npy or raw answer sends without copying it.
    """
    _check_dtype(dtype)
    write = _rescaler(stored, rescale, dtype)
    return filled_bytes_array(stored.shape, dtype, write)


def _rescaler(stored: np.ndarray, rescale: Rescale,
              dtype: str) -> Callable[[np.ndarray], object]:
    """What writes `stored` rescaled into an output array; refusals are raised here, first."""
    slope, intercept = float(rescale.slope), float(rescale.intercept)
    if dtype == "int16":
        slope_int, intercept_int = _int16_rescale(stored, slope, intercept)
        return lambda out: _to_int16(stored, slope_int, intercept_int, out)
    if (dtype == "float32" and slope == 1.0 and intercept.is_integer()
            and abs(intercept) < 2**20 and stored.dtype.itemsize <= 2):
        # Fast path for CT: |value + intercept| < 2**21 is exact in float32; one pass,
        # the cast to float32 done inside the ufunc's loop.
        return lambda out: np.add(stored, np.float32(intercept), out=out, dtype=np.float32)
    return lambda out: _to_float(stored, slope, intercept, out)


def _to_float(stored: np.ndarray, slope: float, intercept: float, out: np.ndarray) -> None:
    # In float64 (as pydicom computes), rounded once into float32 output.
    out64 = out if out.dtype == np.float64 else np.empty(stored.shape, dtype=np.float64)
    np.multiply(stored, slope, out=out64, dtype=np.float64)
    out64 += intercept
    if out64 is not out:
        np.copyto(out, out64, casting="same_kind")


def _int16_rescale(stored: np.ndarray, slope: float, intercept: float) -> tuple[int, int]:
    """Integral slope and intercept, when every rescaled value fits int16; else DtypeError."""
    if not (slope.is_integer() and intercept.is_integer()):
        raise DtypeError(
            f"int16 output needs integral RescaleSlope and RescaleIntercept, "
            f"got {slope:g} and {intercept:g}; ask for float32")
    slope_int, intercept_int = int(slope), int(intercept)
    if stored.size:
        ends = (int(stored.min()) * slope_int + intercept_int,
                int(stored.max()) * slope_int + intercept_int)
        low, high = min(ends), max(ends)
        if low < _INT16.min or high > _INT16.max:
            raise DtypeError(
                f"values span {low}..{high}, outside int16 ({_INT16.min}..{_INT16.max}); "
                "ask for float32")
    return slope_int, intercept_int


def _to_int16(stored: np.ndarray, slope: int, intercept: int, out: np.ndarray) -> None:
    # Every result fits int16 (checked first), so arithmetic in int16 that wraps modulo
    # 2**16 lands on it exactly: no int64 temporary, one output array.
    np.copyto(out, stored, casting="unsafe")  # wraps e.g. uint16 values above 32767
    if slope != 1:
        np.multiply(out, np.int16(_wrap16(slope)), out=out)
    if intercept:
        np.add(out, np.int16(_wrap16(intercept)), out=out)


def _wrap16(value: int) -> int:
    """`value` modulo 2**16, as a signed 16-bit integer."""
    return (value + 2**15) % 2**16 - 2**15


def _lut_to_dtype(values: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "int16" and values.size and int(values.max()) > _INT16.max:
        raise DtypeError(f"Modality LUT output reaches {int(values.max())}, outside int16")
    return values.astype(dtype)


def modality_transform(stored: np.ndarray, attrs: Mapping[str, Any], frames: Sequence[int],
                       dtype: str = "float32") -> np.ndarray:
    """Apply each frame's own modality transformation to `stored` (frames first).

    `frames` are the 1-based frame numbers of stored[0], stored[1], …
    """
    _check_dtype(dtype)
    if stored.shape[0] != len(frames):
        raise PixelDataError(f"{stored.shape[0]} decoded frames but {len(frames)} frame numbers")
    lut = modality_lut(attrs)
    if lut is not None:
        return _lut_to_dtype(apply_modality_lut(stored, lut), dtype)
    rescales = [rescale_for_frame(attrs, frame) for frame in frames]
    if all(rescale == rescales[0] for rescale in rescales):
        return to_hu(stored, rescales[0], dtype)
    writes = [_rescaler(stored[position], rescale, dtype)
              for position, rescale in enumerate(rescales)]

    def write_frames(out: np.ndarray) -> None:
        for position, write in enumerate(writes):
            write(out[position])

    return filled_bytes_array(stored.shape, dtype, write_frames)
