"""Series volumes: geometry from stored metadata, slices fetched concurrently, streamed in order.

    layout = load_layout(engine, study_uid, series_uid)      # GET …/geometry: no pixel fetch
    plan = plan_volume(engine, VolumeQuery(study, series))   # 404/422 before anything is sent
    stream = SliceStream(client, plan, concurrency).start()  # first window fetched
    for values in stream: ...                                 # (rows, columns), in volume order
"""

from service.volumes.describe import geometry_document, geometry_headers
from service.volumes.fetch import SliceStream, slice_values
from service.volumes.plan import SeriesLayout, VolumePlan, VolumeQuery, load_layout, plan_volume

__all__ = ["SeriesLayout", "SliceStream", "VolumePlan", "VolumeQuery", "geometry_document",
           "geometry_headers", "load_layout", "plan_volume", "slice_values"]
