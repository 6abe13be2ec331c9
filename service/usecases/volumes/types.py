"""The inputs and outputs of the volume use cases (plan, slices): frozen values, importable
without Flask or SQLAlchemy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.dicom.geometry import SeriesGeometry, SlicePlane
from service.pixels.description import PixelDescription


@dataclass(frozen=True)
class VolumeQuery:
    """What the caller asked for: a series, the output dtype, and strictness."""

    study_uid: str
    series_uid: str
    dtype: str = "float32"
    strict: bool = True


@dataclass(frozen=True)
class SeriesLayout:
    """The series' geometry, the attributes of its images, and the instances without pixels."""

    study_uid: str
    series_uid: str
    geometry: SeriesGeometry
    attributes: dict[str, dict[str, Any]]
    non_images: list[str]


@dataclass(frozen=True)
class VolumePlan:
    """A volume ready to stream: its slices in order, and how to decode each one."""

    layout: SeriesLayout
    descriptions: dict[str, PixelDescription]
    dtype: str

    @property
    def slices(self) -> list[SlicePlane]:
        return self.layout.geometry.slices

    @property
    def shape(self) -> tuple[int, int, int]:
        first = next(iter(self.descriptions.values()))
        return len(self.slices), first.rows, first.columns
