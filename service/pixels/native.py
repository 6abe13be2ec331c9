"""Natively encoded (uncompressed) pixel data → stored values (PS3.5 8.1.1, 8.2).

numpy reads the payload in place (np.frombuffer); a copy is only made when the
values must change: unused high bits, byte order, planar layout or frame
selection. Python never loops over pixels.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from pydicom.pixels import get_decoder
from pydicom.pixels.decoders.base import DecodeOptions
from pydicom.pixels.processing import convert_color_space
from pydicom.uid import UID

from service.pixels.description import PixelDescription
from service.pixels.errors import PixelDataError

log = logging.getLogger(__name__)


def stored_dtype(desc: PixelDescription) -> np.dtype:
    """Little-endian integer dtype that holds one stored sample."""
    if desc.bits_allocated == 1:
        return np.dtype(np.uint8)
    kind = "i" if desc.pixel_representation else "u"
    return np.dtype(f"<{kind}{desc.bits_allocated // 8}")


def expected_length(desc: PixelDescription, number_of_frames: int) -> int:
    """Bytes that `number_of_frames` frames occupy, without the even-length pad."""
    bits = desc.pixels_per_frame * number_of_frames * desc.bits_allocated
    if desc.photometric_interpretation == "YBR_FULL_422":
        # PS3.3 C.7.6.3.1.2: two chroma samples are shared by two pixels.
        bits = bits // 3 * 2
    return math.ceil(bits / 8)


def check_length(payload_length: int, desc: PixelDescription, number_of_frames: int) -> int:
    """Return the expected byte count, raising when the payload disagrees.

    DICOM values have even length (PS3.5 7.1.1), so a trailing pad byte is
    accepted, and so is trailing padding shorter than one frame (PS3.5 8.1.1;
    some writers pad to a block size). A shorter payload, or one with room for
    whole extra frames, means NumberOfFrames or the geometry is wrong.
    """
    expected = expected_length(desc, number_of_frames)
    frame_bytes = max(1, expected_length(desc, 1))
    if payload_length < expected or payload_length - expected >= max(2, frame_bytes):
        raise PixelDataError(
            f"native pixel data length mismatch: expected {expected} bytes for "
            f"{number_of_frames} frame(s) of {desc.rows}x{desc.columns}x"
            f"{desc.samples_per_pixel} at {desc.bits_allocated} bits, got {payload_length}")
    if payload_length - expected > 1:
        log.info("ignoring %d bytes of trailing padding after the pixel data",
                 payload_length - expected)
    return expected


def _correct_unused_bits(values: np.ndarray, desc: PixelDescription) -> np.ndarray:
    """Keep bits HighBit..HighBit-BitsStored+1 only, sign-extending if signed.

    PS3.5 8.1.1: the bits outside the stored range carry no meaning (vendors
    put overlays or garbage there). Shifting the high bit to the top of the word
    and back with an arithmetic shift both masks and sign-extends in two passes.
    """
    top = desc.bits_allocated - 1 - desc.high_bit
    low = desc.high_bit + 1 - desc.bits_stored
    if top == 0 and low == 0:
        return values
    shifted = np.left_shift(values, top)  # a new array: the payload stays untouched
    np.right_shift(shifted, top + low, out=shifted)
    return shifted


def _unpack_bits(payload: bytes, desc: PixelDescription, indices: Sequence[int]) -> np.ndarray:
    """BitsAllocated 1: frames are bit-packed back to back, little bit first."""
    per_frame = desc.pixels_per_frame
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8), bitorder="little")
    out = np.empty((len(indices), per_frame), dtype=np.uint8)
    for position, index in enumerate(indices):
        out[position] = bits[index * per_frame:(index + 1) * per_frame]
    return out


def _swap_ow_bytes(payload: bytes) -> bytes:
    """8-bit data stored as OW in big endian: undo the pairwise byte swap."""
    padded = payload if len(payload) % 2 == 0 else payload + b"\x00"
    return np.frombuffer(padded, dtype=">u2").astype("<u2").tobytes()


def decode_native(payload: bytes | bytearray | memoryview, desc: PixelDescription,
                  indices: Sequence[int], *, as_rgb: bool = True) -> np.ndarray:
    """Decode the frames at 0-based `indices` of a native payload holding all frames.

    Returns shape (len(indices), rows, columns[, samples]) in a little-endian
    integer dtype. Single-sample data without unused bits is a (read-only)
    view on `payload` when every frame is requested in order.
    """
    tsyntax = UID(desc.transfer_syntax_uid)
    expected = check_length(len(payload), desc, desc.number_of_frames)
    if desc.photometric_interpretation == "YBR_FULL_422":
        return _decode_ybr_422(payload, desc, indices, as_rgb=as_rgb)
    if desc.bits_allocated == 1:
        flat = _unpack_bits(bytes(payload), desc, indices)
        return flat.reshape((len(indices), *desc.frame_shape))

    dtype = stored_dtype(desc)
    if not tsyntax.is_little_endian:
        if desc.bits_allocated == 8 and desc.pixel_data_vr == "OW":
            payload = _swap_ow_bytes(bytes(payload))
        else:
            dtype = dtype.newbyteorder(">")
    values = np.frombuffer(payload, dtype=dtype, count=expected // dtype.itemsize)
    if desc.samples_per_pixel > 1 and desc.planar_configuration == 1:
        # Planar: each frame is RRR…GGG…BBB…; present it as (rows, columns, samples).
        values = values.reshape(desc.number_of_frames, desc.samples_per_pixel,
                                desc.rows, desc.columns).transpose(0, 2, 3, 1)
    else:
        values = values.reshape((desc.number_of_frames, *desc.frame_shape))
    if list(indices) != list(range(desc.number_of_frames)):
        values = values[np.asarray(indices, dtype=np.intp)]
    if dtype.byteorder == ">":
        values = values.astype(dtype.newbyteorder("<"))
    values = _correct_unused_bits(values, desc)
    if desc.samples_per_pixel > 1:
        values = np.ascontiguousarray(values)
        if as_rgb and desc.photometric_interpretation == "YBR_FULL":
            values = convert_color_space(values, "YBR_FULL", "RGB", per_frame=True)
    return values


def _decode_ybr_422(payload: bytes | bytearray | memoryview, desc: PixelDescription,
                    indices: Sequence[int], *, as_rgb: bool) -> np.ndarray:
    """Native YBR_FULL_422 is chroma-subsampled; pydicom's native decoder expands it."""
    decoder = get_decoder(desc.transfer_syntax_uid)
    out = np.empty((len(indices), *desc.frame_shape), dtype=stored_dtype(desc))
    for position, index in enumerate(indices):
        try:
            # pydicom annotates as_array's **kwargs as DecodeOptions (meaning
            # Unpack[DecodeOptions]), so no keyword argument passes its own check.
            frame, _ = decoder.as_array(
                bytes(payload), index=index,
                as_rgb=as_rgb, **decoder_options(desc))  # type: ignore[arg-type]
        except (ValueError, RuntimeError) as exc:
            raise PixelDataError(f"frame {index + 1}: {exc}") from exc
        out[position] = frame
    return out


def decoder_options(desc: PixelDescription,
                    number_of_frames: int | None = None) -> DecodeOptions:
    """The Image Pixel options pydicom's decoders need when given raw bytes."""
    return {
        "rows": desc.rows,
        "columns": desc.columns,
        "samples_per_pixel": desc.samples_per_pixel,
        "number_of_frames": number_of_frames or desc.number_of_frames,
        "bits_allocated": desc.bits_allocated,
        "bits_stored": desc.bits_stored,
        "pixel_representation": desc.pixel_representation,
        "photometric_interpretation": desc.photometric_interpretation,
        "planar_configuration": desc.planar_configuration,
        "pixel_keyword": "PixelData",
    }
