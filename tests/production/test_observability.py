"""Request ids, /metrics and the metered pixel cache, through the app's HTTP interface."""

from __future__ import annotations

import io
import re

import numpy as np
import orjson
import pydicom
from prometheus_client.parser import text_string_to_metric_families

from service.examples.factory import StudySpec, make_dump, make_study


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_request_id_is_echoed_or_made(client) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
    assert given.headers["X-Request-ID"] == "lb-7f3a.42"
    made = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert made.headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]
    for hostile in ("two words", "x" * 200, "id\u00e9"):  # not echoed into a header or log
        replaced = client.get("/healthz", headers={"X-Request-ID": hostile}).headers
        assert re.fullmatch(r"[0-9a-f]{32}", replaced["X-Request-ID"])
    problem = client.get("/v1/studies/1.2.3")  # errors carry it too
    assert problem.status_code == 404 and "X-Request-ID" in problem.headers


def test_metrics_count_requests_by_route_template_never_raw_urls(client) -> None:
    datasets = make_study(StudySpec(seed=41, n_slices=2, rows=8, columns=8))
    assert client.post("/v1/dumps", data=orjson.dumps(make_dump(datasets)),
                       content_type="application/dicom+json").status_code == 200
    assert client.post("/v1/dumps", data=b"[{]", content_type="application/dicom+json"
                       ).status_code == 400
    study = datasets[0].StudyInstanceUID
    for _ in range(3):
        assert client.get(f"/v1/studies/{study}").status_code == 200
    assert client.get("/v1/studies/1.2.3.4").status_code == 404
    assert client.get("/no/such/path/1.2.840.99").status_code == 404
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    text = answer.get_data(as_text=True)
    assert study not in text and "1.2.3.4" not in text and "1.2.840.99" not in text
    found = samples(text)
    route = "/v1/studies/<study>"
    assert found[("dicom_resolver_http_requests_total",
                  (("method", "GET"), ("route", route), ("status", "200")))] == 3
    assert found[("dicom_resolver_http_requests_total",
                  (("method", "GET"), ("route", route), ("status", "404")))] == 1
    assert found[("dicom_resolver_http_requests_total",
                  (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 1
    assert found[("dicom_resolver_http_request_duration_seconds_count",
                  (("method", "GET"), ("route", route)))] == 4
    assert found[("dicom_resolver_ingest_dumps_total", (("outcome", "stored"),))] == 1
    assert found[("dicom_resolver_ingest_dumps_total", (("outcome", "invalid"),))] == 1
    assert found[("dicom_resolver_ingest_instances_total", (("result", "created"),))] == \
        len(datasets)


def test_metrics_time_upstream_fetches_and_the_cache_hit_ratio(pixel_app, pixel_study,
                                                               emulator) -> None:
    client = pixel_app().test_client()
    first = client.get(pixel_study.pixels_url(0))
    assert first.status_code == 200
    expected = pydicom.dcmread(next(pixel_study.folder.glob(
        f"*{pixel_study.datasets[0].SOPInstanceUID}*"))).pixel_array
    assert np.load(io.BytesIO(first.data)).shape == expected.shape
    for _ in range(3):  # served from the cache: no upstream call
        assert client.get(pixel_study.pixels_url(0)).status_code == 200
    found = samples(client.get("/metrics").get_data(as_text=True))
    assert found[("dicom_resolver_pixel_cache_requests_total", (("result", "miss"),))] == 1
    assert found[("dicom_resolver_pixel_cache_requests_total", (("result", "hit"),))] == 3
    assert found[("dicom_resolver_pixel_cache_hit_ratio", ())] == 0.75
    assert found[("dicom_resolver_upstream_fetch_duration_seconds_count",
                  (("outcome", "ok"),))] == 1
    assert found[("dicom_resolver_upstream_fetch_duration_seconds_sum",
                  (("outcome", "ok"),))] > 0


def test_upstream_errors_are_counted_by_kind(pixel_app, pixel_study, emulator) -> None:
    app = pixel_app(healthcare_api_root=emulator.api_root + "/nowhere")
    client = app.test_client()
    failed = client.get(pixel_study.pixels_url(1))
    assert failed.status_code >= 400
    found = samples(client.get("/metrics").get_data(as_text=True))
    errors = {labels: value for (name, labels), value in found.items()
              if name == "dicom_resolver_upstream_fetch_errors_total"}
    assert sum(errors.values()) == 1, (failed.status_code, errors)
    assert found[("dicom_resolver_upstream_fetch_duration_seconds_count",
                  (("outcome", "error"),))] == 1
