"""The instances of one series with everything volume geometry needs, in one query.

The list views carry only a summary; PixelSpacing, FrameOfReferenceUID and the
functional groups of multi-frame images are in the full normalized attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from service.store.schema import instances, series


@dataclass(slots=True)
class SeriesInstance:
    sop_uid: str
    attributes: bytes  # normalized JSON
    has_pixel_data: bool
    pixel_module_missing: list[str]


def series_instances(engine: Engine, study_uid: str,
                     series_uid: str) -> list[SeriesInstance] | None:
    """Every instance of the series (in SOP Instance UID order), None when it is not stored."""
    with engine.connect() as connection:
        if connection.execute(select(series.c.series_uid).where(
                series.c.series_uid == series_uid, series.c.study_uid == study_uid)).first() \
                is None:
            return None
        rows = connection.execute(
            select(instances.c.sop_uid, instances.c.attributes, instances.c.has_pixel_data,
                   instances.c.pixel_module_missing)
            .where(instances.c.series_uid == series_uid, instances.c.study_uid == study_uid)
            .order_by(instances.c.sop_uid)).all()
    return [SeriesInstance(row.sop_uid, bytes(row.attributes), bool(row.has_pixel_data),
                           row.pixel_module_missing.split(",") if row.pixel_module_missing
                           else []) for row in rows]
