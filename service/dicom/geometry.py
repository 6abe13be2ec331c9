"""Patient-space geometry of image slices (PS3.3 C.7.6.2.1.1).

The true order of slices in a volume is their position along the slice
normal: the cross product of the row and column direction cosines of
ImageOrientationPatient, dotted with ImagePositionPatient.
"""

from __future__ import annotations

from collections.abc import Sequence


def slice_normal(orientation: Sequence[float]) -> tuple[float, float, float] | None:
    """Normal of the image plane (row cosines × column cosines), None when malformed."""
    if orientation is None or len(orientation) != 6:
        return None
    try:
        rx, ry, rz, cx, cy, cz = (float(v) for v in orientation)
    except (TypeError, ValueError):
        return None
    return (ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx)


def position_along_normal(position: Sequence[float] | None,
                          orientation: Sequence[float] | None) -> float | None:
    """ImagePositionPatient projected on the slice normal, None when either is unusable."""
    normal = slice_normal(orientation) if orientation is not None else None
    if normal is None or position is None or len(position) != 3:
        return None
    try:
        return sum(float(p) * n for p, n in zip(position, normal, strict=True))
    except (TypeError, ValueError):
        return None
