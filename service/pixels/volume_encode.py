"""Volume headers for imaging tools: NRRD (raw, LPS) and NIfTI-1 (single file, RAS).

Both formats are a header followed by the raw little-endian voxels with the
column index varying fastest, then rows, then slices: exactly the C-order bytes
of a (slices, rows, columns) array. So a volume is streamed as one of these
headers and then each slice's bytes (stream_volume), like the npy stream.

The geometry arrives as a 4×4 LPS affine from (column, row, slice) indices to
patient millimetres (service.dicom.geometry.SeriesGeometry.affine_lps).
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from service.pixels.errors import EncodeError

log = logging.getLogger(__name__)

# NRRD "type" names (NRRD0004 specification) and NIfTI-1 datatype codes (nifti1.h).
_NRRD_TYPES = {"int16": "int16", "float32": "float"}
_NIFTI_TYPES = {"int16": (4, 16), "float32": (16, 32)}  # DT_SIGNED_SHORT, DT_FLOAT
NIFTI_VOX_OFFSET = 352  # 348-byte header + 4-byte extension flag
_NIFTI_UNITS_MM = 2
_NIFTI_XFORM_SCANNER_ANAT = 1
# LPS (DICOM) → RAS (NIfTI): x and y change sign.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _check(shape: Sequence[int], dtype: np.dtype | str, affine: Sequence[Sequence[float]]
           ) -> tuple[tuple[int, ...], np.dtype, np.ndarray]:
    dtype = np.dtype(dtype)
    if dtype.name not in _NRRD_TYPES:
        raise EncodeError(f"volumes are int16 or float32, not {dtype.name}")
    shape = tuple(int(size) for size in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise EncodeError(f"a volume is (slices, rows, columns), got {shape}")
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
        raise EncodeError("the affine must be a finite 4×4 matrix")
    if abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
        raise EncodeError("the affine is singular: the volume has no 3-D geometry")
    return shape, dtype, matrix


def _vector(values: Iterable[float]) -> str:
    return "(" + ",".join(repr(float(v)) for v in values) + ")"


def nrrd_header(shape: Sequence[int], dtype: np.dtype | str,
                affine_lps: Sequence[Sequence[float]]) -> bytes:
    """NRRD0004 header (ends with the blank line) for raw little-endian voxels."""
    shape, dtype, matrix = _check(shape, dtype, affine_lps)
    slices, rows, columns = shape
    lines = [
        "NRRD0004",
        "# Complete NRRD file format specification at http://teem.sourceforge.net/nrrd/",
        f"type: {_NRRD_TYPES[dtype.name]}",
        "dimension: 3",
        "space: left-posterior-superior",
        f"sizes: {columns} {rows} {slices}",
        "space directions: " + " ".join(_vector(matrix[:3, axis]) for axis in range(3)),
        "kinds: domain domain domain",
        "endian: little",
        "encoding: raw",
        f"space origin: {_vector(matrix[:3, 3])}",
    ]
    return ("\n".join(lines) + "\n\n").encode("ascii")


def quaternion(rotation: np.ndarray) -> tuple[float, float, float, float]:
    """(b, c, d, qfac) of a 3×3 matrix with orthonormal columns (nifti1.h, method 2).

    A left-handed matrix (determinant −1) is stored with its third column negated
    and qfac = −1, as NIfTI-1 prescribes.
    """
    r = np.array(rotation, dtype=np.float64)
    qfac = 1.0
    if np.linalg.det(r) < 0:
        r[:, 2] = -r[:, 2]
        qfac = -1.0
    a = 1.0 + r[0, 0] + r[1, 1] + r[2, 2]
    if a > 0.5:  # the well-conditioned case
        a = 0.5 * math.sqrt(a)
        b, c, d = (0.25 * (r[2, 1] - r[1, 2]) / a, 0.25 * (r[0, 2] - r[2, 0]) / a,
                   0.25 * (r[1, 0] - r[0, 1]) / a)
    else:
        xd, yd, zd = 1.0 + r[0, 0] - r[1, 1] - r[2, 2], 1.0 - r[0, 0] + r[1, 1] - r[2, 2], \
            1.0 - r[0, 0] - r[1, 1] + r[2, 2]
        if xd > 1.0:
            b = 0.5 * math.sqrt(xd)
            c, d, a = 0.25 * (r[0, 1] + r[1, 0]) / b, 0.25 * (r[0, 2] + r[2, 0]) / b, \
                0.25 * (r[2, 1] - r[1, 2]) / b
        elif yd > 1.0:
            c = 0.5 * math.sqrt(yd)
            b, d, a = 0.25 * (r[0, 1] + r[1, 0]) / c, 0.25 * (r[1, 2] + r[2, 1]) / c, \
                0.25 * (r[0, 2] - r[2, 0]) / c
        else:
            d = 0.5 * math.sqrt(zd)
            b, c, a = 0.25 * (r[0, 2] + r[2, 0]) / d, 0.25 * (r[1, 2] + r[2, 1]) / d, \
                0.25 * (r[1, 0] - r[0, 1]) / d
        if a < 0:  # the quaternion's a is kept non-negative
            b, c, d = -b, -c, -d
    return b, c, d, qfac


def nifti1_header(shape: Sequence[int], dtype: np.dtype | str,
                  affine_lps: Sequence[Sequence[float]], description: str = "") -> bytes:
    """348-byte NIfTI-1 header plus the 4-byte extension flag (no extensions): 352 bytes.

    sform is the DICOM affine converted to RAS; qform is the same rotation and
    offset (its voxel sizes are the column norms), exact unless slices are sheared.
    """
    shape, dtype, matrix = _check(shape, dtype, affine_lps)
    ras = LPS_TO_RAS @ matrix
    zooms = np.linalg.norm(ras[:3, :3], axis=0)
    b, c, d, qfac = quaternion(ras[:3, :3] / zooms)
    code, bitpix = _NIFTI_TYPES[dtype.name]
    slices, rows, columns = shape
    header = struct.pack(
        "<i10s18sihcb8h3f4h8f3fhcb4f2i80s24s2h6f12f16s4s",
        348, b"", b"", 0, 0, b"r", 0,
        3, columns, rows, slices, 1, 1, 1, 1,  # dim
        0.0, 0.0, 0.0, 0, code, bitpix, 0,  # intent p1-p3 and code, datatype, bitpix, slice_start
        qfac, *zooms, 0.0, 0.0, 0.0, 0.0,  # pixdim
        float(NIFTI_VOX_OFFSET), 1.0, 0.0,  # vox_offset, scl_slope, scl_inter
        0, b"\0", _NIFTI_UNITS_MM,  # slice_end, slice_code, xyzt_units
        0.0, 0.0, 0.0, 0.0, 0, 0,  # cal_max, cal_min, slice_duration, toffset, glmax, glmin
        description.encode("ascii", "replace")[:79], b"",
        _NIFTI_XFORM_SCANNER_ANAT, _NIFTI_XFORM_SCANNER_ANAT,  # qform_code, sform_code
        b, c, d, *ras[:3, 3],
        *ras[0], *ras[1], *ras[2],  # srow_x, srow_y, srow_z
        b"", b"n+1\0")
    assert len(header) == 348, len(header)
    return header + b"\0\0\0\0"


def stream_volume(header: bytes, shape: Sequence[int], dtype: np.dtype | str,
                  slices: Iterable[np.ndarray]) -> Iterator[bytes]:
    """Yield `header`, then each slice's little-endian bytes, checking every slice.

    A slice that breaks the promise of the header (shape, dtype, count) stops the
    stream with EncodeError rather than send a wrong volume.
    """
    dtype = np.dtype(dtype)
    shape = tuple(int(size) for size in shape)
    yield header
    count = 0
    for part in slices:
        if part.shape != shape[1:] or part.dtype != dtype:
            raise EncodeError(f"slice {count} is {part.shape} {part.dtype}, header promised "
                              f"{shape[1:]} {dtype}")
        count += 1
        if count > shape[0]:
            raise EncodeError(f"more than the {shape[0]} slices announced in the header")
        yield np.ascontiguousarray(part, dtype=dtype.newbyteorder("<")).tobytes()
    if count != shape[0]:
        raise EncodeError(f"{count} slices written, header announced {shape[0]}")
