"""The slices of a planned volume, fetched concurrently and yielded in volume order.

Each slice goes through the pixel pipeline (service.usecases.pixels.modality_values:
fetch → decode → modality transformation), as GET …/pixels does, so it shares the
bulk-data client's authorized session, retries, allowlist and single-flight
payload cache. At most `concurrency` slices are in flight or waiting to be
sent (service.usecases.bounded.OrderedPool, which WADO-RS retrieve shares): memory
is bounded by the pool, not by the volume.

`start()` fetches the first window before anything is sent, so that an early
failure is still a problem body; a failure later stops the iteration with the
ServiceError naming the slice, and the caller must abort the stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import numpy as np

from service.bulkdata.client import BulkDataClient
from service.dicom.geometry import SlicePlane
from service.errors import ServiceError
from service.usecases.bounded import OrderedPool
from service.usecases.pixels import PixelQuery, PixelSource, modality_values
from service.usecases.volumes.plan import VolumePlan

log = logging.getLogger(__name__)


def slice_values(client: BulkDataClient, plan: VolumePlan, plane: SlicePlane) -> np.ndarray:
    """Modality values (rows, columns) of one slice in the plan's dtype."""
    layout = plan.layout
    query = PixelQuery(layout.study_uid, layout.series_uid, plane.sop_uid, (plane.frame,),
                       plan.dtype)
    source = PixelSource(layout.attributes[plane.sop_uid], plan.descriptions[plane.sop_uid],
                         [plane.frame])
    return modality_values(client, query, source)[0]


class SliceStream:
    """Ordered, bounded, concurrent iteration over the slices of a plan (an OrderedPool)."""

    def __init__(self, client: BulkDataClient, plan: VolumePlan, concurrency: int) -> None:
        self._client = client
        self._plan = plan
        self._pool = OrderedPool(self._slice, range(len(plan.slices)), concurrency,
                                 name="volume-slice")
        self._started = time.perf_counter()

    def _slice(self, index: int) -> np.ndarray:
        plane = self._plan.slices[index]
        try:
            return slice_values(self._client, self._plan, plane)
        except ServiceError as exc:
            exc.extra.setdefault("sop_instance_uid", plane.sop_uid)
            exc.extra.update(frame=plane.frame, slice=index)
            log.warning("volume of series %s: slice %d (%s frame %d) failed: %s",
                        self._plan.layout.series_uid, index, plane.sop_uid, plane.frame,
                        exc.detail)
            raise

    def start(self) -> SliceStream:
        """Fetch the first window; raise the first failure among it (in volume order)."""
        self._pool.start()
        return self

    def __iter__(self) -> Iterator[np.ndarray]:
        yield from self._pool
        log.info("volume of series %s: %d slices in %.0f ms", self._plan.layout.series_uid,
                 len(self._plan.slices), (time.perf_counter() - self._started) * 1e3)

    def close(self) -> None:
        """Cancel what has not started; running fetches finish in the background."""
        self._pool.close()
