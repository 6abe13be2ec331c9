"""How much of each CT series of a study is aerated lung, asked of dicom-resolver.

    client = Client("http://dicom-resolver:8080", id_token_audience="https://dicom-resolver")
    for summary in summarize_study(client, study_uid):
        print(summary.series_uid, summary.lung_ml)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from dicom_resolver_client import Client

# Aerated lung in Hounsfield units (a common screening threshold pair).
LUNG_HU = (-950.0, -400.0)


@dataclass(frozen=True)
class SeriesSummary:
    series_uid: str
    slices: int
    voxel_ml: float
    lung_ml: float


def summarize_study(client: Client, study_uid: str) -> list[SeriesSummary]:
    """One summary per CT series that is a volume (others are skipped)."""
    summaries = []
    for series in client.search_series(study_uid):
        if series.get("Modality") != "CT":
            continue
        volume = client.volume(study_uid, series["SeriesInstanceUID"])
        if volume.spacing is None:
            continue
        voxel_ml = float(np.prod(volume.spacing)) / 1000.0
        lung = np.count_nonzero((volume.array >= LUNG_HU[0]) & (volume.array <= LUNG_HU[1]))
        summaries.append(SeriesSummary(series["SeriesInstanceUID"], volume.array.shape[0],
                                       voxel_ml, lung * voxel_ml))
    return summaries
