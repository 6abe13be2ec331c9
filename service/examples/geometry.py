"""Where each image of a synthetic series lies, and how it is numbered.

The plan is computed once per spec and drives both the header attributes
and the pixel sampling, so headers and pixels cannot disagree.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np

from .spec import StudySpec

# (slope, intercept) pairs cycled through by vary_rescale; each keeps the phantom's
# HU range (-1006..706) within the stored range of the given BitsStored (signed).
_RESCALES = {
    16: ((1.0, -1024.0), (2.0, -1024.0), (1.0, -1100.0), (0.5, -1000.0)),
    12: ((1.0, -1024.0), (2.0, -1024.0), (1.0, -1100.0)),
}


@dataclass(frozen=True)
class ImagePlan:
    """One image: its number, plane, rescale and role in the series."""

    scan_index: int  # position along the scan (0-based); -1 for the localizer
    instance_number: int
    position: tuple[float, float, float]  # ImagePositionPatient, rounded as written
    orientation: tuple[float, ...]  # ImageOrientationPatient, rounded as written
    pixel_spacing: tuple[float, float]
    rows: int
    columns: int
    slope: float
    intercept: float
    is_localizer: bool = False
    is_duplicate: bool = False

    @functools.cached_property
    def normal(self) -> np.ndarray:
        """Unit normal of the image plane (row direction × column direction)."""
        normal = np.cross(self.orientation[:3], self.orientation[3:])
        return normal / np.linalg.norm(normal)

    @functools.cached_property
    def slice_location(self) -> float:
        """Position projected on the normal, as scanners write SliceLocation."""
        return round(float(np.dot(self.position, self.normal)), 4)

    @property
    def image_id(self) -> str:
        """Stable identifier of this image inside its series (feeds its UID)."""
        if self.is_localizer:
            return "localizer"
        return f"slice-{self.scan_index}{'-dup' if self.is_duplicate else ''}"


def _top_left(
    center: np.ndarray, orientation: tuple[float, ...], spacing: tuple[float, float],
    rows: int, columns: int,
) -> tuple[float, float, float]:
    row_dir, col_dir = np.array(orientation[:3]), np.array(orientation[3:])
    corner = (
        center
        - row_dir * spacing[1] * (columns - 1) / 2
        - col_dir * spacing[0] * (rows - 1) / 2
    )
    # + 0.0 turns -0.0 into 0.0 so that no "-0" is written.
    x, y, z = (round(float(v), 4) + 0.0 for v in corner)
    return x, y, z


def plan_series(spec: StudySpec, series_index: int) -> list[ImagePlan]:
    """The images of one series in the order they are generated (scan order)."""
    tilt = math.radians(spec.oblique_degrees)
    orientation = tuple(
        round(v, 6) + 0.0 for v in (1.0, 0.0, 0.0, 0.0, math.cos(tilt), -math.sin(tilt))
    )
    normal = np.cross(orientation[:3], orientation[3:])
    step = (1.0 if spec.reverse_scan_direction else -1.0) * spec.spacing_between_slices
    spacing = (spec.pixel_spacing, spec.pixel_spacing)
    table = _RESCALES[spec.bits_stored]
    numbers = list(range(1, spec.n_slices + 1))
    if spec.shuffle_instance_numbers:
        np.random.default_rng([spec.seed, series_index, 7]).shuffle(numbers)

    plans: list[ImagePlan] = []
    for index in range(spec.n_slices):
        if index in spec.missing_slices:
            continue
        center = np.array([0.0, 0.0, spec.first_slice_z]) + normal * step * index
        slope, intercept = spec.rescale_slope, spec.rescale_intercept
        if spec.vary_rescale:
            slope, intercept = table[index % len(table)]
        plans.append(ImagePlan(
            scan_index=index,
            instance_number=numbers[index],
            position=_top_left(center, orientation, spacing, spec.rows, spec.columns),
            orientation=orientation,
            pixel_spacing=spacing,
            rows=spec.rows,
            columns=spec.columns,
            slope=slope,
            intercept=intercept,
        ))
    next_number = spec.n_slices + 1
    by_index = {plan.scan_index: plan for plan in plans}
    for index in spec.duplicate_positions:
        if index in by_index:
            duplicate = replace(by_index[index], instance_number=next_number, is_duplicate=True)
            plans.append(duplicate)
            next_number += 1
    if spec.localizer and series_index == 0 and spec.n_slices:
        plans.append(_localizer(spec, next_number))
    return plans


def _localizer(spec: StudySpec, instance_number: int) -> ImagePlan:
    """A coronal image through the body's centre covering the scanned range and more."""
    orientation = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)  # rows to the left, columns to the feet
    extent = spec.field_of_view + spec.n_slices * spec.spacing_between_slices
    spacing = (round(extent / spec.rows, 6), spec.pixel_spacing)
    middle_z = spec.first_slice_z - (spec.n_slices - 1) * spec.spacing_between_slices / 2
    if spec.reverse_scan_direction:
        middle_z = spec.first_slice_z + (spec.n_slices - 1) * spec.spacing_between_slices / 2
    center = np.array([0.0, 0.0, middle_z])
    return ImagePlan(
        scan_index=-1,
        instance_number=instance_number,
        position=_top_left(center, orientation, spacing, spec.rows, spec.columns),
        orientation=orientation,
        pixel_spacing=spacing,
        rows=spec.rows,
        columns=spec.columns,
        slope=1.0,
        intercept=-1024.0,
        is_localizer=True,
    )

