"""A smooth synthetic chest, defined in patient coordinates (mm, LPS).

The phantom is a function HU(x, y, z), so any plane can be sampled from it:
axial, oblique and coronal (localizer) images of one study agree with each
other geometrically. Shapes have a ~1 mm linear edge so images are smooth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

AIR_HU = -1000.0
FAT_HU = -100.0
SOFT_TISSUE_HU = 40.0
LUNG_HU = -850.0
BONE_HU = 700.0
DISC_HU = 80.0
EDGE_MM = 1.0


def plane_coordinates(
    origin: Sequence[float],
    row_direction: Sequence[float],
    column_direction: Sequence[float],
    spacing: tuple[float, float],
    rows: int,
    columns: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y, z of pixel centres (PS3.3 C.7.6.2.1.1), broadcastable to rows × columns.

    `spacing` is PixelSpacing: (between rows, between columns). A coordinate that
    does not change along a direction keeps length 1 on that axis, which makes
    axis-aligned planes several times cheaper to evaluate.
    """
    r = np.arange(rows, dtype=np.float32)[:, None] * np.float32(spacing[0])
    c = np.arange(columns, dtype=np.float32)[None, :] * np.float32(spacing[1])
    coords = []
    for axis in range(3):
        value = np.full((1, 1), origin[axis], dtype=np.float32)
        if row_direction[axis]:
            value = value + c * np.float32(row_direction[axis])
        if column_direction[axis]:
            value = value + r * np.float32(column_direction[axis])
        coords.append(value)
    return coords[0], coords[1], coords[2]


def _inside(distance_mm: np.ndarray) -> np.ndarray:
    """1 inside, 0 outside, a linear ramp of EDGE_MM across the boundary."""
    return np.clip(0.5 - distance_mm / EDGE_MM, 0.0, 1.0)


def _ellipse(
    u: np.ndarray, v: np.ndarray, a: float | np.ndarray, b: float | np.ndarray
) -> np.ndarray:
    # Approximate signed distance: normalised radius scaled by the smaller semi-axis.
    radius = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    return _inside((radius - 1.0) * np.minimum(a, b))


def _paint(hu: np.ndarray, weight: np.ndarray, value: float | np.ndarray) -> None:
    hu += weight * (value - hu)


def hounsfield(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """HU of the phantom at the given points (float32 array of their shape)."""
    hu = np.full(np.broadcast_shapes(x.shape, y.shape, z.shape), AIR_HU, dtype=np.float32)
    # Body: an elliptic cylinder whose section breathes slowly along z.
    a = 165.0 + 8.0 * np.sin(z / 70.0)
    b = 115.0 + 5.0 * np.cos(z / 90.0)
    _paint(hu, _ellipse(x, y - 10.0, a, b), FAT_HU)
    _paint(hu, _ellipse(x, y - 10.0, a - 12.0, b - 12.0), SOFT_TISSUE_HU)
    # Lungs: ellipsoids, so their section grows and shrinks from slice to slice.
    for side in (-1.0, 1.0):
        lung = _ellipse3(x - side * 80.0, y, z - 40.0, 60.0, 80.0, 160.0)
        _paint(hu, lung, LUNG_HU)
    # Heart, painted over the left lung's medial part.
    _paint(hu, _ellipse3(x - 25.0, y + 25.0, z + 60.0, 60.0, 55.0, 55.0), SOFT_TISSUE_HU)
    # Trachea above the carina.
    _paint(hu, _ellipse(x, y + 15.0, 9.0, 9.0) * _inside(-20.0 - z), AIR_HU)
    # Spine: vertebral body with an intervertebral disc every 28 mm, and the posterior arch.
    disc = _inside(np.abs(((z + 1000.0) % 28.0) - 14.0) - 2.5)
    _paint(hu, _ellipse(x, y - 70.0, 17.0, 15.0), BONE_HU + disc * (DISC_HU - BONE_HU))
    _paint(hu, _ellipse(x, y - 98.0, 16.0, 12.0), BONE_HU)
    _paint(hu, _ellipse(x, y - 98.0, 8.0, 6.0), SOFT_TISSUE_HU)
    return hu


def _ellipse3(
    u: np.ndarray, v: np.ndarray, w: np.ndarray, a: float, b: float, c: float
) -> np.ndarray:
    radius = np.sqrt((u / a) ** 2 + (v / b) ** 2 + (w / c) ** 2)
    return _inside((radius - 1.0) * min(a, b, c))


def noise(seed: int | Sequence[int], shape: tuple[int, ...], amplitude_hu: float) -> np.ndarray:
    """Deterministic uniform noise in [-amplitude, +amplitude] HU."""
    if amplitude_hu <= 0:
        return np.zeros(shape, dtype=np.float32)
    rng = np.random.default_rng(seed)
    return rng.uniform(-amplitude_hu, amplitude_hu, size=shape).astype(np.float32)
