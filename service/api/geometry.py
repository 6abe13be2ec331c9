"""A series' geometry as the JSON document of GET …/geometry and as X-* headers of …/volume.

Axis conventions, the same everywhere: arrays are (slices, rows, columns); the
"row" direction is the first triplet of ImageOrientationPatient (the way column
indices increase), "column" the second (the way row indices increase), "slice"
the way slice indices increase (ascending along row × column). Spacing is given
in array-axis order: slice step, then PixelSpacing (between rows, between columns).
"""

from __future__ import annotations

from typing import Any

from service.api.pixel_headers import numbers
from service.dicom.geometry import SeriesGeometry, SlicePlane, slice_normal
from service.usecases.volumes.plan import SeriesLayout, breaking


def _unit(vector: Any) -> list[float] | None:
    if vector is None:
        return None
    length = sum(v * v for v in vector) ** 0.5
    return [v / length for v in vector] if length else None


def _spacing(geometry: SeriesGeometry) -> list[float] | None:
    first = geometry.reference
    if first is None or first.pixel_spacing is None or geometry.ordered_by != "position":
        return None
    step = geometry.step_vector
    step_length = sum(v * v for v in step) ** 0.5 if step else geometry.spacing
    return [step_length, *first.pixel_spacing] if step_length else None


def _directions(geometry: SeriesGeometry) -> dict[str, list[float]] | None:
    first = geometry.reference
    if first is None or first.orientation is None or geometry.ordered_by != "position":
        return None
    return {"row": list(first.orientation[:3]), "column": list(first.orientation[3:]),
            "slice": _unit(geometry.step_vector) or list(slice_normal(first.orientation) or ())}


def _slice(plane: SlicePlane) -> dict[str, Any]:
    return {**plane.ref, "instance_number": plane.instance_number,
            "position": list(plane.position) if plane.position else None}


def geometry_document(layout: SeriesLayout) -> dict[str, Any]:
    """Everything known about the series as one volume; reports rather than refuses."""
    geometry = layout.geometry
    first = geometry.reference
    return {
        "study_instance_uid": layout.study_uid,
        "series_instance_uid": layout.series_uid,
        "is_volume": geometry.is_volume,
        "ordered_by": geometry.ordered_by,
        "shape": [len(geometry.slices), first.rows, first.columns] if first else [0, 0, 0],
        "origin": list(first.position) if first and first.position and
        geometry.ordered_by == "position" else None,
        "spacing": _spacing(geometry),
        "direction": _directions(geometry),
        "affine_lps": geometry.affine_lps(),
        "slice_spacing": {
            "median": geometry.spacing,
            "min": geometry.step_range[0] if geometry.step_range else None,
            "max": geometry.step_range[1] if geometry.step_range else None,
            "uniform": not geometry.gaps,
        },
        "gaps": [{"after": gap.after.ref, "before": gap.before.ref, "distance": gap.distance,
                  "missing_slices": gap.missing} for gap in geometry.gaps],
        "duplicates": [[plane.ref for plane in group] for group in geometry.duplicates],
        "orientations": [{"orientation": list(orientation), "images": count}
                         for orientation, count in geometry.orientations],
        "excluded": breaking(geometry),
        "non_images": layout.non_images,
        "slices": [_slice(plane) for plane in geometry.slices],
    }


def geometry_headers(geometry: SeriesGeometry) -> dict[str, str]:
    """X-Ordered-By always; X-Origin, X-Spacing, X-Direction when the geometry is known."""
    headers = {"X-Ordered-By": geometry.ordered_by}
    first = geometry.reference
    spacing, directions = _spacing(geometry), _directions(geometry)
    if first is not None and first.position is not None and directions is not None:
        headers["X-Origin"] = numbers(list(first.position))
        headers["X-Direction"] = numbers([*(directions["row"] or ()),
                                          *(directions["column"] or ()),
                                          *(directions["slice"] or ())])
    if spacing is not None:
        headers["X-Spacing"] = numbers(spacing)
    if geometry.excluded or geometry.gaps:
        headers["X-Excluded-Images"] = str(len(geometry.excluded))
    return headers
