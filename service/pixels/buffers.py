"""Arrays whose memory is a bytes object: values written once, in place, and sent as is.

A WSGI server writes bytes (gunicorn refuses anything else), so an answer computed
into a numpy array used to be copied once more by tobytes(). Here the array is
computed straight into the memory of the bytes object that becomes the body, and
bytes_of() hands that object over instead of copying it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence

import numpy as np


def filled_bytes_array(shape: Sequence[int], dtype: np.dtype | str,
                       fill: Callable[[np.ndarray], object]) -> np.ndarray:
    """A new C-order array over a bytes object, its values written by `fill` in place.

    `fill` gets a writable array of `shape` and `dtype` over that memory and must not
    keep it. The array returned is read-only, as every array over bytes is.
    """
    dtype = np.dtype(dtype)
    shape = tuple(int(size) for size in shape)
    size = math.prod(shape) * dtype.itemsize
    stream = io.BytesIO()
    if size:
        stream.seek(size - 1)
        stream.write(b"\0")  # sizes BytesIO's own bytes object to the array
    view = stream.getbuffer()
    fill(np.frombuffer(view, dtype=dtype).reshape(shape))
    view.release()  # fill's array is gone: nothing else exports the buffer
    # With the buffer no longer exported, getvalue() returns BytesIO's bytes object itself.
    return np.frombuffer(stream.getvalue(), dtype=dtype).reshape(shape)


def bytes_of(array: np.ndarray) -> bytes:
    """The C-order bytes of `array`: the bytes object it is all of, else a copy."""
    owner = array.base
    while isinstance(owner, np.ndarray):
        owner = owner.base
    # C-contiguous and as long as the bytes object, so it starts at its first byte.
    if isinstance(owner, bytes) and array.flags.c_contiguous and array.nbytes == len(owner):
        return owner
    return array.tobytes()
