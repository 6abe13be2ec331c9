"""A series → its geometry (no pixel fetch) → a plan of the volume to stream, or a 422.

Everything that can refuse a volume is decided here, from stored metadata, so
that the refusal is a problem body and not a broken stream: not one volume (in
strict mode), images that cannot be decoded, colour images, and int16 asked of
slices whose rescale is not integral.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine

from service.dicom.geometry import SeriesGeometry, SlicePlane, analyze_series, planes_of_instance
from service.errors import NotFound, Unprocessable
from service.pixels.description import PixelDescription
from service.pixels.modality import modality_lut, rescale_for_frame
from service.store.queries import series_instances
from service.usecases.pixels import PixelQuery, check_dtype, describe_pixels, metadata_errors

log = logging.getLogger(__name__)


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


def load_layout(engine: Engine, study_uid: str, series_uid: str) -> SeriesLayout:
    """The geometry of a stored series from its metadata alone; 404 when not stored."""
    stored = series_instances(engine, study_uid, series_uid)
    if stored is None:
        raise NotFound(f"series {series_uid} of study {study_uid} is not stored")
    attributes: dict[str, dict[str, Any]] = {}
    planes: list[SlicePlane] = []
    non_images = []
    for instance in stored:
        if not instance.has_pixel_data:
            non_images.append(instance.sop_uid)
            continue
        attrs = orjson.loads(instance.attributes)
        attributes[instance.sop_uid] = attrs
        planes.extend(planes_of_instance(instance.sop_uid, attrs))
    geometry = analyze_series(planes)
    log.info("geometry of series %s: %d images, %d in the volume, %d excluded, %d gaps",
             series_uid, len(planes), len(geometry.slices), len(geometry.excluded),
             len(geometry.gaps))
    return SeriesLayout(study_uid, series_uid, geometry, attributes, non_images)


def breaking(geometry: SeriesGeometry) -> list[dict[str, Any]]:
    """Why a series is not one volume: each excluded image and each irregular step."""
    found = [{**item.plane.ref, "reason": item.reason, "detail": item.detail}
             for item in geometry.excluded]
    for gap in geometry.gaps:
        what = f"{gap.missing} missing slice(s)" if gap.missing else "an irregular step"
        found.append({**gap.before.ref, "reason": "gap",
                      "detail": f"{gap.distance:.4g} mm after {gap.after.sop_uid} "
                                f"(frame {gap.after.frame}): {what}"})
    return found


def plan_volume(engine: Engine, query: VolumeQuery) -> VolumePlan:
    """The plan of the asked volume, or the 404/422 that refuses it before any fetch."""
    check_dtype(query.dtype)
    layout = load_layout(engine, query.study_uid, query.series_uid)
    geometry = layout.geometry
    if not geometry.slices:
        raise Unprocessable(f"series {query.series_uid} has no images to make a volume of.",
                            series_instance_uid=query.series_uid)
    if query.strict and not geometry.is_volume:
        problems = breaking(geometry)
        raise Unprocessable(
            f"series {query.series_uid} is not one volume: {len(problems)} image(s) or "
            "step(s) break it (see `errors`); ask with strict=false for the largest "
            "consistent stack.", errors=problems, series_instance_uid=query.series_uid)
    descriptions = {}
    for plane in geometry.slices:
        if plane.sop_uid not in descriptions:
            descriptions[plane.sop_uid] = _description(
                engine, PixelQuery(query.study_uid, query.series_uid, plane.sop_uid),
                layout.attributes[plane.sop_uid])
        if query.dtype == "int16":
            _check_int16(layout.attributes[plane.sop_uid], plane)
    return VolumePlan(layout, descriptions, query.dtype)


def _description(engine: Engine, slice_query: PixelQuery,
                 attrs: dict[str, Any]) -> PixelDescription:
    sop_uid = slice_query.sop_uid
    desc = describe_pixels(engine, slice_query, attrs)
    if desc.samples_per_pixel != 1:
        raise Unprocessable(f"instance {sop_uid} has {desc.samples_per_pixel} samples per "
                            "pixel; volumes are made of single-sample (greyscale) images.",
                            sop_instance_uid=sop_uid)
    return desc


def _check_int16(attrs: dict[str, Any], plane: SlicePlane) -> None:
    """int16 needs each slice's own rescale to be integral (the range is checked per slice)."""
    if modality_lut(attrs) is not None:
        return
    with metadata_errors(plane.sop_uid):
        rescale = rescale_for_frame(attrs, plane.frame)
    if not (float(rescale.slope).is_integer() and float(rescale.intercept).is_integer()):
        raise Unprocessable(
            f"dtype: int16 cannot hold the values of instance {plane.sop_uid} (frame "
            f"{plane.frame}): RescaleSlope {rescale.slope:g}, RescaleIntercept "
            f"{rescale.intercept:g}; ask for float32.", parameter="dtype", **plane.ref)
