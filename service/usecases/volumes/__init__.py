"""Series volumes: geometry from stored metadata, slices fetched concurrently, streamed in order.

    layout = plan.load_layout(engine, study_uid, series_uid)   # GET …/geometry: no pixel fetch
    volume = plan.plan_volume(engine, VolumeQuery(study, series))  # 404/422 before any send
    stream = slices.SliceStream(client, volume, concurrency).start()  # first window fetched
    for values in stream: ...                     # (rows, columns), in volume order

The geometry itself is pure (service.dicom.geometry); its JSON document and X-*
headers are presentation (service.api.geometry).
"""
