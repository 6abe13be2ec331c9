"""Typed results: an ingest's counts, a volume with its geometry, a series' geometry.

Axis conventions are the service's: arrays are (slices, rows, columns); spacing is in
that order (slice step, between rows, between columns), in mm; the 4×4 `affine` maps
(column, row, slice) indices — (i, j, k, 1) — to patient coordinates in LPS mm, as DICOM
and NRRD do (`Volume.lps` takes array-order indices instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class IngestResult:
    """What POST /v1/dumps answered."""

    dump_id: int
    received: int
    created: int
    updated: int
    unchanged: int
    studies: list[str]
    series: list[str]
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> IngestResult:
        return cls(dump_id=int(document["dump_id"]), received=int(document["received"]),
                   created=int(document["created"]), updated=int(document["updated"]),
                   unchanged=int(document["unchanged"]), studies=list(document["studies"]),
                   series=list(document["series"]),
                   warnings=list(document.get("warnings") or []))


@dataclass(frozen=True)
class Volume:
    """A series as one array in modality units (HU for CT), with where it is in the patient."""

    array: npt.NDArray[Any]
    ordered_by: str  # position, InstanceNumber or SliceLocation
    origin: FloatArray | None  # first slice's ImagePositionPatient (LPS, mm)
    spacing: FloatArray | None  # (slice step, between rows, between columns) mm
    direction: FloatArray | None  # 3×3: rows are the row, column and slice directions
    excluded_images: int = 0  # left out with strict=False

    @property
    def affine(self) -> FloatArray | None:
        """4×4 from (column, row, slice, 1) indices to LPS mm; None without patient geometry."""
        if self.origin is None or self.spacing is None or self.direction is None:
            return None
        affine = np.eye(4)
        # Columns: along a row (column index), along a column (row index), slice to slice.
        affine[:3, 0] = self.direction[0] * self.spacing[2]
        affine[:3, 1] = self.direction[1] * self.spacing[1]
        affine[:3, 2] = self.direction[2] * self.spacing[0]
        affine[:3, 3] = self.origin
        return affine

    @property
    def slice_positions(self) -> FloatArray | None:
        """(slices, 3): the LPS position of each slice's first voxel, in array order."""
        affine = self.affine
        if affine is None:
            return None
        steps = np.arange(self.array.shape[0], dtype=np.float64)
        return affine[:3, 3] + np.outer(steps, affine[:3, 2])

    def lps(self, slice_index: float, row: float, column: float) -> FloatArray:
        """Patient coordinates (LPS mm) of array index [slice_index, row, column]."""
        affine = self.affine
        if affine is None:
            raise ValueError("the volume has no patient geometry (ordered without positions)")
        point: FloatArray = affine @ np.array([column, row, slice_index, 1.0])
        return point[:3]


@dataclass(frozen=True)
class Geometry:
    """GET …/geometry: the series' largest consistent stack and what breaks it, from metadata."""

    is_volume: bool
    ordered_by: str
    shape: tuple[int, int, int]
    origin: FloatArray | None
    spacing: FloatArray | None
    affine: FloatArray | None  # 4×4, (column, row, slice) indices → LPS mm
    slices: list[dict[str, Any]]  # in array order: UIDs, instance_number, position
    excluded: list[dict[str, Any]]  # images (and gaps) that break the volume, with reasons
    document: dict[str, Any]  # the whole answer (gaps, duplicates, orientations, …)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Geometry:
        shape = tuple(int(size or 0) for size in document["shape"])
        return cls(is_volume=bool(document["is_volume"]), ordered_by=str(document["ordered_by"]),
                   shape=(shape[0], shape[1], shape[2]),
                   origin=_array(document.get("origin")), spacing=_array(document.get("spacing")),
                   affine=_array(document.get("affine_lps")),
                   slices=list(document["slices"]), excluded=list(document["excluded"]),
                   document=document)


def _array(value: Any) -> FloatArray | None:
    return None if value is None else np.asarray(value, dtype=np.float64)


def header_numbers(value: str | None) -> FloatArray | None:
    """A comma-separated X-* header of decimals as an array (None when absent)."""
    if not value:
        return None
    return np.array([float(part) for part in value.split(",")], dtype=np.float64)
