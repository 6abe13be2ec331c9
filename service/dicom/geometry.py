"""Patient-space geometry of image slices (PS3.3 C.7.6.2.1.1).

The true order of slices in a volume is their position along the slice
normal: the cross product of the row and column direction cosines of
ImageOrientationPatient, dotted with ImagePositionPatient.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from service.dicom.functional_groups import PER_FRAME, functional_value


def slice_normal(orientation: Sequence[float] | None) -> tuple[float, float, float] | None:
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


# -- series geometry: which images form one volume, in which order ----------------------------
# Tolerances. Scanners write cosines to ~6 decimals and positions to ~4; these absorb that
# rounding while still catching a tilted localizer or a wrong slice.
ORIENTATION_TOLERANCE = 1e-3  # largest difference of a direction cosine within one stack
SPACING_TOLERANCE_MM = 0.01  # absolute floor of the step tolerance (and duplicate distance)
SPACING_TOLERANCE_RELATIVE = 0.01  # steps within 1 % of the median step are uniform

Vector = tuple[float, float, float]


@dataclass(frozen=True)
class SlicePlane:
    """One 2-D image of a series: a single-frame instance, or one frame of a multi-frame one."""

    sop_uid: str
    frame: int  # 1-based
    position: Vector | None  # ImagePositionPatient (mm, LPS)
    orientation: tuple[float, ...] | None  # ImageOrientationPatient (6 cosines)
    pixel_spacing: tuple[float, float] | None  # (between rows, between columns), mm
    rows: int | None
    columns: int | None
    frame_of_reference: str | None
    instance_number: int | None = None
    slice_location: float | None = None
    localizer: bool = False

    @property
    def ref(self) -> dict[str, Any]:
        """How answers name this image: its SOP Instance UID, and its frame when multi-frame."""
        return {"sop_instance_uid": self.sop_uid, "frame": self.frame}


@overload
def _floats(value: Any, count: Literal[2]) -> tuple[float, float] | None: ...
@overload
def _floats(value: Any, count: Literal[3]) -> Vector | None: ...
@overload
def _floats(value: Any, count: int) -> tuple[float, ...] | None: ...
def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    """`count` finite numbers (a tuple of that length), else None."""
    if not isinstance(value, list | tuple) or len(value) != count:
        return None
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if all(math.isfinite(v) for v in numbers) else None


def _scalar(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if len(value) == 1 else None
    return value


def _int(value: Any) -> int | None:
    value = _scalar(value)
    try:
        return int(float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def planes_of_instance(sop_uid: str, attrs: Mapping[str, Any]) -> list[SlicePlane]:
    """The image planes of one instance, from its normalized (keyword) attributes.

    Multi-frame instances give one plane per frame, placed by the Plane Position and Plane
    Orientation functional groups (PS3.3 C.7.6.16.2.3/.4) when present.
    """
    frames = _int(attrs.get("NumberOfFrames")) or 1
    per_frame = attrs.get(PER_FRAME)
    per_frame = per_frame if isinstance(per_frame, list) and len(per_frame) == frames else None
    image_type = attrs.get("ImageType")
    types = {str(v).upper() for v in image_type} if isinstance(image_type, list) else set()
    location = _scalar(attrs.get("SliceLocation"))
    planes = []
    for frame in range(1, frames + 1):
        item = per_frame[frame - 1] if per_frame else None
        position = _floats(functional_value(attrs, item, "PlanePositionSequence",
                                            "ImagePositionPatient"), 3)
        if frames > 1 and per_frame is None:
            position = None  # one top-level position cannot place several frames
        planes.append(SlicePlane(
            sop_uid=sop_uid, frame=frame, position=position,
            orientation=_floats(functional_value(attrs, item, "PlaneOrientationSequence",
                                                 "ImageOrientationPatient"), 6),
            pixel_spacing=_floats(functional_value(attrs, item, "PixelMeasuresSequence",
                                                   "PixelSpacing"), 2),
            rows=_int(attrs.get("Rows")), columns=_int(attrs.get("Columns")),
            frame_of_reference=_scalar(attrs.get("FrameOfReferenceUID")),
            instance_number=_int(attrs.get("InstanceNumber")),
            slice_location=float(location) if isinstance(location, int | float) else None,
            localizer="LOCALIZER" in types))
    return planes


@dataclass(frozen=True)
class Excluded:
    """An image left out of the volume, and why (a machine-readable reason and a sentence)."""

    plane: SlicePlane
    reason: str  # localizer, different-orientation, different-size, different-pixel-spacing,
    #              different-frame-of-reference, no-position, duplicate-position, outside-run
    detail: str


@dataclass(frozen=True)
class Gap:
    """An irregular step between neighbours: `missing` slices fit in it (0: not a multiple)."""

    after: SlicePlane
    before: SlicePlane
    distance: float
    missing: int


@dataclass(frozen=True)
class SeriesGeometry:
    """The largest consistent stack of a series, in ascending order along the slice normal."""

    slices: list[SlicePlane]
    ordered_by: str  # "position", else the fallback "InstanceNumber" or "SliceLocation"
    excluded: list[Excluded] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    duplicates: list[list[SlicePlane]] = field(default_factory=list)
    orientations: list[tuple[tuple[float, ...], int]] = field(default_factory=list)
    spacing: float | None = None  # median step along the normal between distinct positions
    step_range: tuple[float, float] | None = None
    step_vector: Vector | None = None  # mean step between consecutive slices (LPS, mm)

    @property
    def is_volume(self) -> bool:
        """Every image of the series is in `slices`, evenly spaced, without gaps."""
        return bool(self.slices) and not self.excluded and not self.gaps

    @property
    def reference(self) -> SlicePlane | None:
        return self.slices[0] if self.slices else None

    def affine_lps(self) -> list[list[float]] | None:
        """4×4 matrix from (column, row, slice) indices to patient LPS mm; None when unknown."""
        first = self.reference
        if (first is None or self.ordered_by != "position" or first.pixel_spacing is None
                or first.orientation is None or first.position is None):
            return None
        row_spacing, column_spacing = first.pixel_spacing
        along_row, along_column = first.orientation[:3], first.orientation[3:]
        step = self.step_vector or slice_normal(first.orientation)
        assert step is not None  # the normal of six cosines
        columns = [[v * column_spacing for v in along_row], [v * row_spacing for v in along_column],
                   list(step)]
        return [[columns[0][axis], columns[1][axis], columns[2][axis], first.position[axis]]
                for axis in range(3)] + [[0.0, 0.0, 0.0, 1.0]]


def _same_orientation(a: Sequence[float], b: Sequence[float]) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= ORIENTATION_TOLERANCE


def _stack_key(plane: SlicePlane, orientations: list[tuple[float, ...]]) -> tuple:
    cluster = None
    if plane.orientation is not None:
        cluster = next((i for i, o in enumerate(orientations)
                        if _same_orientation(o, plane.orientation)), None)
        if cluster is None:
            orientations.append(plane.orientation)
            cluster = len(orientations) - 1
    spacing = tuple(round(v, 3) for v in plane.pixel_spacing) if plane.pixel_spacing else None
    return (cluster, (plane.rows, plane.columns), spacing, plane.frame_of_reference)


_KEY_REASONS = ("different-orientation", "different-size", "different-pixel-spacing",
                "different-frame-of-reference")


def _why_not(key: tuple, chosen: tuple, plane: SlicePlane) -> tuple[str, str]:
    index = next(i for i, (a, b) in enumerate(zip(key, chosen, strict=True)) if a != b)
    reason = "localizer" if index == 0 and plane.localizer else _KEY_REASONS[index]
    words = ("orientation", "Rows/Columns", "PixelSpacing", "FrameOfReferenceUID")[index]
    return reason, f"its {words} differs from that of the largest stack"


def analyze_series(planes: Sequence[SlicePlane]) -> SeriesGeometry:
    """Split a series into stacks, keep the largest consistent one, report what breaks it.

    Stacks share orientation (within ORIENTATION_TOLERANCE), Rows/Columns, PixelSpacing
    and frame of reference. Inside the largest, images are sorted along the normal;
    repeated positions are duplicates (the lowest InstanceNumber is kept), and the longest
    run of uniformly spaced positions is the volume. Images without a position are placed
    by InstanceNumber, else SliceLocation, only when no image of the series has one.
    """
    placed = [p for p in planes if p.position is not None and p.orientation is not None]
    candidates = placed or list(planes)
    orientations: list[tuple[float, ...]] = []
    keys = [_stack_key(p, orientations) for p in candidates]
    counts: dict[tuple, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return SeriesGeometry([], "position")
    chosen = max(counts, key=counts.__getitem__)  # the first of equals, in series order
    placed_ids = {id(p) for p in placed}
    excluded = [Excluded(p, "no-position", "it has no usable ImagePositionPatient and "
                         "ImageOrientationPatient") for p in planes
                if placed and id(p) not in placed_ids]
    stack = []
    for plane, key in zip(candidates, keys, strict=True):
        if key == chosen:
            stack.append(plane)
        else:
            excluded.append(Excluded(plane, *_why_not(key, chosen, plane)))
    by_orientation = [(o, sum(n for k, n in counts.items() if k[0] == i))
                      for i, o in enumerate(orientations)]
    if not placed:
        return _fallback(stack, excluded, by_orientation)
    return _along_normal(stack, excluded, by_orientation)


def _along_normal(stack: list[SlicePlane], excluded: list[Excluded],
                  orientations: list[tuple[tuple[float, ...], int]]) -> SeriesGeometry:
    normal = slice_normal(stack[0].orientation)
    assert normal is not None  # placed planes have six finite cosines
    offsets = {id(p): _offset_along(p, normal) for p in stack}
    ordered = sorted(stack, key=lambda p: (offsets[id(p)], p.instance_number is None,
                                           p.instance_number or 0, p.sop_uid, p.frame))
    kept: list[SlicePlane] = []
    duplicates: list[list[SlicePlane]] = []
    for plane in ordered:
        if kept and offsets[id(plane)] - offsets[id(kept[-1])] <= SPACING_TOLERANCE_MM:
            if not duplicates or duplicates[-1][0] is not kept[-1]:
                duplicates.append([kept[-1]])
            duplicates[-1].append(plane)
            excluded.append(Excluded(plane, "duplicate-position",
                                     f"same position as {kept[-1].sop_uid}"))
        else:
            kept.append(plane)
    steps = [offsets[id(b)] - offsets[id(a)] for a, b in zip(kept, kept[1:], strict=False)]
    spacing = statistics.median(steps) if steps else None
    runs, gaps = [kept[:1]], []
    tolerance = max(SPACING_TOLERANCE_MM, SPACING_TOLERANCE_RELATIVE * (spacing or 0.0))
    for previous, plane, step in zip(kept, kept[1:], steps, strict=False):
        assert spacing is not None  # the median of the non-empty steps
        if abs(step - spacing) <= tolerance:
            runs[-1].append(plane)
            continue
        multiple = round(step / spacing)
        missing = multiple - 1 if multiple >= 2 and abs(step - multiple * spacing) \
            <= tolerance * multiple else 0
        gaps.append(Gap(previous, plane, step, missing))
        runs.append([plane])
    volume = max(runs, key=len)  # the first of equals
    for run in runs:
        if run is not volume:
            excluded.extend(Excluded(p, "outside-run", "a gap or an irregular step separates it "
                                     "from the largest evenly spaced run") for p in run)
    step_vector: Vector | None = None
    if len(volume) > 1:
        first, last = volume[0].position, volume[-1].position
        assert first is not None and last is not None  # placed planes
        count = len(volume) - 1
        step_vector = ((last[0] - first[0]) / count, (last[1] - first[1]) / count,
                       (last[2] - first[2]) / count)
    elif spacing is not None:
        step_vector = (normal[0] * spacing, normal[1] * spacing, normal[2] * spacing)
    return SeriesGeometry(volume, "position", excluded, gaps, duplicates, orientations, spacing,
                          (min(steps), max(steps)) if steps else None, step_vector)


def _offset_along(plane: SlicePlane, normal: Vector) -> float:
    """Distance of a placed plane's position along the slice normal (mm)."""
    assert plane.position is not None  # only placed planes are stacked along the normal
    return sum(a * b for a, b in zip(plane.position, normal, strict=True))


def _fallback(stack: list[SlicePlane], excluded: list[Excluded],
              orientations: list[tuple[tuple[float, ...], int]]) -> SeriesGeometry:
    """No positions anywhere: InstanceNumber order if unique, else SliceLocation if unique."""
    numbers = [p.instance_number for p in stack]
    locations = [p.slice_location for p in stack]
    if None not in numbers and len(set(numbers)) == len(numbers) or (
            None in locations or len(set(locations)) != len(locations)):
        ordered = sorted(stack, key=lambda p: (p.instance_number is None,
                                               p.instance_number or 0, p.sop_uid, p.frame))
        return SeriesGeometry(ordered, "InstanceNumber", excluded, orientations=orientations)
    ordered = sorted(stack, key=lambda p: (p.slice_location, p.sop_uid, p.frame))
    return SeriesGeometry(ordered, "SliceLocation", excluded, orientations=orientations)
