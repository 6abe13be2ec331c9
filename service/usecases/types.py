"""The inputs and outputs of the use cases that are modules of this package (pixels, imports,
the import worker, push notifications): frozen values, importable without Flask or
SQLAlchemy, so views, CLI commands and tests name them without loading the store. The
packages' use cases keep theirs beside them (dicomweb/types.py, volumes/types.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.pixels.description import PixelDescription
from service.pixels.modality import Rescale
from service.settings import Settings


@dataclass(frozen=True)
class PixelQuery:
    """What the caller asked for: one instance, 1-based frames (None: all), output dtype."""

    study_uid: str
    series_uid: str
    sop_uid: str
    frames: tuple[int, ...] | None = (1,)
    dtype: str = "float32"


@dataclass(frozen=True)
class InstancePixels:
    """Modality values of the asked frames, shaped (frames, rows, columns[, samples])."""

    values: np.ndarray
    frames: list[int]
    attributes: Mapping[str, Any]
    description: PixelDescription
    rescales: list[Rescale] | None  # None when a Modality LUT Sequence was applied


@dataclass(frozen=True)
class PixelSource:
    """What the stored metadata says of an instance's pixels, checked before any fetch:
    its attributes, its Image Pixel module and the asked frames (1-based, in range)."""

    attributes: Mapping[str, Any]
    description: PixelDescription
    frames: list[int]


@dataclass(frozen=True)
class ImportRequest:
    """A validated import: the store, and either study UIDs or QIDO-RS filters."""

    store: str
    study_uids: tuple[str, ...] = ()
    filters: dict[str, str] = field(default_factory=dict)

    def selection(self) -> dict[str, Any]:
        if self.study_uids:
            return {"study_uids": list(self.study_uids)}
        return {"filters": dict(self.filters)}


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 8
    lease_seconds: float = 120.0
    poll_seconds: float = 1.0
    max_attempts: int = 5
    page_size: int = 1000
    max_depth: int = 16

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerOptions:
        return cls(concurrency=max(1, settings.import_concurrency),
                   lease_seconds=settings.import_lease_seconds,
                   poll_seconds=settings.import_poll_seconds,
                   max_attempts=settings.import_max_attempts,
                   page_size=settings.import_page_size,
                   max_depth=settings.max_sequence_depth)


@dataclass(frozen=True)
class StudyOutcome:
    study_uid: str
    state: str  # done, unchanged or failed
    instances: int


@dataclass(frozen=True)
class PushedInstance:
    message_id: str
    store: str
    study_uid: str
    series_uid: str
    sop_uid: str
    action: str | None
