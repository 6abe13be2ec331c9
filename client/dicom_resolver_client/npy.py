"""Read a .npy body straight off the socket into one preallocated array.

The header says shape and dtype; the data bytes are read into the array's own buffer,
so a volume of N bytes costs N bytes of memory, not 2N (no bytes object, no copy).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from numpy.lib import format as npy_format

from .errors import DicomResolverError, TruncatedBody

CHUNK = 1 << 20


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...

    def readinto(self, buffer: Any, /) -> int: ...


def read_npy(stream: Readable) -> np.ndarray[Any, np.dtype[Any]]:
    """The array of a .npy stream (format 1.0 or 2.0, C or Fortran order)."""
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"format version {version} (the service writes 1.0 or 2.0)")
    except ValueError as exc:
        raise DicomResolverError(f"the answer is not a .npy file: {exc}") from exc
    if dtype.hasobject:
        raise DicomResolverError("refusing a .npy body of Python objects")
    array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    view = array.reshape(-1, order="A").view(np.uint8).data
    done, total = 0, array.nbytes
    while done < total:
        count = stream.readinto(view[done:done + CHUNK])
        if not count:
            raise TruncatedBody(f"the body ended after {done} of {total} data bytes")
        done += count
    return array
