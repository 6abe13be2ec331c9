"""Arrays → response bodies: npy, raw little-endian, JSON lists, PNG.

NRRD and NIfTI come later. Volumes can be streamed as .npy: npy_header() first,
then each slice's bytes (stream_npy does both and checks every slice).
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as npy_format
from PIL import Image

from service.pixels.buffers import bytes_of
from service.pixels.errors import EncodeError

log = logging.getLogger(__name__)


def _little_endian(array: np.ndarray) -> np.ndarray:
    """C-contiguous, little-endian (or byte-order-free) version of `array`."""
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return np.ascontiguousarray(array)


def npy_header(shape: Sequence[int], dtype: np.dtype | str) -> bytes:
    """The .npy header (format 1.0, or 2.0 for huge headers) of a C-order array.

    Followed by the C-order little-endian bytes of an array of that shape and
    dtype, it makes a file numpy.load reads.
    """
    dtype = np.dtype(dtype)
    if dtype.byteorder == ">":
        raise EncodeError("npy streams here are little endian; convert the dtype first")
    if dtype.hasobject:
        raise EncodeError("object arrays cannot be written as npy")
    return _npy_header(tuple(int(size) for size in shape), dtype)


@functools.lru_cache(maxsize=256)
def _npy_header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    # Slices of a series share one shape: numpy's header writer runs once per shape.
    header = {
        "descr": npy_format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": shape,
    }
    buffer = io.BytesIO()
    try:
        npy_format.write_array_header_1_0(buffer, header)
    except ValueError:  # header longer than 65535 bytes: needs format 2.0
        buffer = io.BytesIO()
        npy_format.write_array_header_2_0(buffer, header)
    return buffer.getvalue()


def to_npy(array: np.ndarray) -> bytes:
    """A complete .npy file (numpy.load reads it back)."""
    return b"".join(to_npy_chunks(array))


def to_npy_chunks(array: np.ndarray) -> list[bytes]:
    """The .npy file as [header, values]: a response body sent without joining them.

    Values computed into a bytes object (buffers.filled_bytes_array, as the modality
    transformation does) are that object itself, not a copy."""
    array = _little_endian(array)
    return [npy_header(array.shape, array.dtype), bytes_of(array)]


def stream_npy(shape: Sequence[int], dtype: np.dtype | str,
               slices: Iterable[np.ndarray]) -> Iterator[bytes]:
    """Yield a .npy file chunk by chunk: the header, then one chunk per slice.

    `slices` must be shape[1:] arrays of `dtype`, shape[0] of them; a slice
    that breaks the promise made by the header stops the stream with EncodeError.
    """
    dtype = np.dtype(dtype)
    shape = tuple(int(size) for size in shape)
    yield npy_header(shape, dtype)
    count = 0
    for part in slices:
        if part.shape != shape[1:] or part.dtype != dtype:
            raise EncodeError(
                f"slice {count} is {part.shape} {part.dtype}, header promised "
                f"{shape[1:]} {dtype}")
        count += 1
        if count > shape[0]:
            raise EncodeError(f"more than the {shape[0]} slices announced in the header")
        yield bytes_of(_little_endian(part))
    if count != shape[0]:
        raise EncodeError(f"{count} slices written, header announced {shape[0]}")


@dataclass(frozen=True)
class RawArray:
    """Little-endian C-order bytes with the shape and dtype needed to read them."""

    body: bytes
    shape: str  # comma-separated sizes, e.g. "1,512,512"
    dtype: str  # numpy dtype string, e.g. "<f4"


def to_raw(array: np.ndarray) -> RawArray:
    """Raw bytes plus "1,512,512"-style shape and "<f4"-style dtype strings."""
    array = _little_endian(array)
    return RawArray(bytes_of(array), ",".join(str(size) for size in array.shape),
                    array.dtype.str)


def to_json_lists(array: np.ndarray, max_elements: int) -> list:
    """Nested Python lists, refusing arrays larger than `max_elements` values."""
    if array.size > max_elements:
        raise EncodeError(
            f"{array.size} values exceed the JSON limit of {max_elements}; "
            "ask for npy or raw instead")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise EncodeError("JSON cannot carry NaN or infinite values")
    return array.tolist()


def to_png(image: np.ndarray) -> bytes:
    """PNG of a uint8 (rows, columns) greyscale or (rows, columns, 3) RGB image."""
    if image.dtype != np.uint8:
        raise EncodeError(f"PNG needs uint8 values (window them first), got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise EncodeError(f"PNG needs (rows, columns) or (rows, columns, 3), got {image.shape}")
    buffer = io.BytesIO()
    # Pillow infers "L" for 2-D uint8 and "RGB" for (rows, columns, 3) uint8.
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()
