"""The oracle: the fixture dumps as pydicom reads them, grouped by study, series, instance."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pydicom


def read(instance: dict[str, Any]) -> pydicom.Dataset:
    return pydicom.Dataset.from_json(instance, bulk_data_uri_handler=lambda *_: b"")


class Oracle:
    def __init__(self, instances: list[dict[str, Any]]) -> None:
        self.datasets = [read(instance) for instance in instances]
        self.by_study: dict[str, list[pydicom.Dataset]] = defaultdict(list)
        self.by_series: dict[str, list[pydicom.Dataset]] = defaultdict(list)
        for ds in self.datasets:
            self.by_study[ds.StudyInstanceUID].append(ds)
            self.by_series[ds.SeriesInstanceUID].append(ds)

    def studies_where(self, predicate) -> set[str]:  # type: ignore[no-untyped-def]
        return {uid for uid, items in self.by_study.items() if predicate(items[0])}

    def series_where(self, predicate) -> set[str]:  # type: ignore[no-untyped-def]
        return {uid for uid, items in self.by_series.items() if predicate(items[0])}


def uids(results: list[dict[str, Any]], key: str = "0020000D") -> list[str]:
    return [result[key]["Value"][0] for result in results]


def windowed(ds: pydicom.Dataset) -> np.ndarray:
    """pydicom's pixels of a CT slice through its own linear window (PS3.3 C.11.2.1.2), 0..255:
    what a rendered image or thumbnail of it must show."""
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    return np.clip(((hu - (center - 0.5)) / (width - 1) + 0.5) * 255, 0, 255)
