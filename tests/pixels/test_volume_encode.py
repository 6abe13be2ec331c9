"""NRRD and NIfTI-1 headers read back by pynrrd and nibabel (the readers tools share)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import nibabel
import nrrd
import numpy as np
import pytest

from service.pixels.errors import EncodeError
from service.pixels.volume_encode import (
    LPS_TO_RAS,
    NIFTI_VOX_OFFSET,
    nifti1_header,
    nrrd_header,
    quaternion,
    stream_volume,
)


def rotation(degrees_x: float, degrees_z: float) -> np.ndarray:
    ax, az = math.radians(degrees_x), math.radians(degrees_z)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ rx


def affine_of(rotation_matrix: np.ndarray, zooms: tuple[float, float, float],
              origin: tuple[float, float, float]) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, :3] = rotation_matrix * np.array(zooms)
    affine[:3, 3] = origin
    return affine


CASES = [(0, 0), (20, 0), (-40, 90), (90, 180), (180, 0), (0, 180), (135, -60)]
VOLUME = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5) - 30.5


def write(path: Path, header: bytes, volume: np.ndarray) -> Path:
    path.write_bytes(b"".join(stream_volume(header, volume.shape, volume.dtype, list(volume))))
    return path


@pytest.mark.parametrize("angles", CASES)
def test_quaternion_matches_nibabel(angles: tuple[float, float]) -> None:
    matrix = rotation(*angles)
    b, c, d, qfac = quaternion(matrix)
    assert qfac == 1.0
    np.testing.assert_allclose(nibabel.quaternions.quat2mat(
        [math.sqrt(max(0.0, 1 - b * b - c * c - d * d)), b, c, d]), matrix, atol=1e-9)
    flipped = matrix.copy()
    flipped[:, 2] *= -1
    assert quaternion(flipped)[3] == -1.0


@pytest.mark.parametrize("angles", CASES)
@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_nifti_header_as_nibabel_reads_it(tmp_path: Path, angles: tuple[float, float],
                                          dtype: str) -> None:
    affine = affine_of(rotation(*angles), (0.7, 0.8, 1.25), (-120.5, 33.0, 7.75))
    volume = VOLUME.astype(dtype)
    header = nifti1_header(volume.shape, dtype, affine)
    assert len(header) == NIFTI_VOX_OFFSET
    image = nibabel.load(write(tmp_path / "v.nii", header, volume))
    raw = nibabel.Nifti1Header.from_fileobj(io.BytesIO(header))  # as written, not as loaded
    assert raw["vox_offset"] == NIFTI_VOX_OFFSET and raw["sizeof_hdr"] == 348
    assert raw["magic"] == b"n+1" and raw["pixdim"][0] == 1.0
    assert image.get_data_dtype() == np.dtype(dtype)
    np.testing.assert_allclose(image.header.get_sform(), LPS_TO_RAS @ affine, atol=1e-5)
    np.testing.assert_allclose(image.header.get_qform(), LPS_TO_RAS @ affine, atol=1e-5)
    np.testing.assert_allclose(image.header.get_zooms(), (0.7, 0.8, 1.25), atol=1e-6)
    assert image.header.get_xyzt_units()[0] == "mm"
    np.testing.assert_array_equal(np.asarray(image.dataobj).transpose(2, 1, 0), volume)


@pytest.mark.parametrize("angles", CASES[:4])
def test_nrrd_header_as_pynrrd_reads_it(tmp_path: Path, angles: tuple[float, float]) -> None:
    affine = affine_of(rotation(*angles), (0.7, 0.8, 1.25), (-120.5, 33.0, 7.75))
    path = write(tmp_path / "v.nrrd", nrrd_header(VOLUME.shape, VOLUME.dtype, affine), VOLUME)
    data, header = nrrd.read(str(path))
    assert header["space"] == "left-posterior-superior" and header["encoding"] == "raw"
    assert list(header["sizes"]) == [5, 4, 3] and header["endian"] == "little"
    np.testing.assert_allclose(header["space directions"], affine[:3, :3].T, atol=1e-12)
    np.testing.assert_allclose(header["space origin"], affine[:3, 3])
    np.testing.assert_array_equal(data.transpose(2, 1, 0), VOLUME)


def test_a_sheared_affine_keeps_sform_exact(tmp_path: Path) -> None:
    # Gantry tilt: slices step along a direction that is not the plane normal.
    affine = affine_of(np.eye(3), (0.5, 0.5, 2.0), (0.0, 0.0, 0.0))
    affine[1, 2] = 0.4
    image = nibabel.load(write(tmp_path / "v.nii", nifti1_header(VOLUME.shape, "float32",
                                                                 affine), VOLUME))
    np.testing.assert_allclose(image.header.get_sform(), LPS_TO_RAS @ affine, atol=1e-6)


@pytest.mark.parametrize("shape, dtype, affine", [
    ((4, 5), "float32", np.eye(4)), ((3, 4, 5), "uint8", np.eye(4)),
    ((3, 4, 5), "float32", np.zeros((4, 4))), ((3, 4, 5), "float32", np.eye(3)),
])
def test_headers_refuse_what_they_cannot_describe(shape, dtype, affine) -> None:  # type: ignore[no-untyped-def]
    for make in (nrrd_header, nifti1_header):
        with pytest.raises(EncodeError):
            make(shape, dtype, affine)


def test_stream_refuses_a_slice_that_breaks_the_header() -> None:
    chunks = stream_volume(b"H", (2, 4, 5), "float32", [VOLUME[0], VOLUME[1, :3]])
    assert next(chunks) == b"H" and len(next(chunks)) == 80
    with pytest.raises(EncodeError):
        next(chunks)
    short = stream_volume(b"H", (3, 4, 5), "float32", list(VOLUME[:2]))
    with pytest.raises(EncodeError):
        b"".join(short)
    assert io.BytesIO(b"".join(stream_volume(b"", (1, 4, 5), "float32", [VOLUME[0]]))) \
        .getbuffer().nbytes == 80
