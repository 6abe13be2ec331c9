"""The volume oracle: pydicom datasets ordered along the slice normal and rescaled with numpy,
independently of service.dicom.geometry, and an Enhanced CT whose frames are stored out of order.

Shared by tests/dicom (geometry) and tests/api/volumes (the volume routes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from tests.support.dcm_files import write_enhanced_ct


def enhanced_ct(folder: Path, frames: int = 5) -> Path:
    """An Enhanced CT whose frames are stored out of order along z, each with its rescale."""
    order = [3, 0, 4, 1, 2]  # the z index of each stored frame
    return write_enhanced_ct(
        folder, seed=11, frame_of_reference=True,
        rescales=[(1.0, -1024.0) if index % 2 else (2.0, -1000.0) for index in range(frames)],
        z_positions=[2.5 * order[index] for index in range(frames)])


def normal_of(ds: pydicom.Dataset) -> np.ndarray:
    orientation = np.array(ds.ImageOrientationPatient, dtype=float)
    return np.cross(orientation[:3], orientation[3:])


def oracle_volume(datasets: list[pydicom.Dataset]) -> tuple[np.ndarray, list[pydicom.Dataset]]:
    """HU volume of single-frame datasets sorted along the normal, and the sorted datasets."""
    normal = normal_of(datasets[0])
    ordered = sorted(datasets, key=lambda ds: float(np.dot(
        np.array(ds.ImagePositionPatient, dtype=float), normal)))
    volume = np.stack([ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope)
                       + float(ds.RescaleIntercept) for ds in ordered])
    return volume, ordered


def oracle_affine(ordered: list[pydicom.Dataset]) -> np.ndarray:
    """(column, row, slice) → LPS mm, from the first and last sorted datasets."""
    first, last = ordered[0], ordered[-1]
    orientation = np.array(first.ImageOrientationPatient, dtype=float)
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    affine = np.eye(4)
    affine[:3, 0] = orientation[:3] * column_spacing
    affine[:3, 1] = orientation[3:] * row_spacing
    affine[:3, 2] = (np.array(last.ImagePositionPatient, dtype=float)
                     - np.array(first.ImagePositionPatient, dtype=float)) / (len(ordered) - 1)
    affine[:3, 3] = np.array(first.ImagePositionPatient, dtype=float)
    return affine
