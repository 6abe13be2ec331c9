"""The worker's cache of decode attributes (keyed by content hash) through the HTTP API:
used for a repeated request, never stale after a re-ingest that changes the instance."""

from __future__ import annotations

import copy
import io
from typing import Any

import numpy as np
import orjson
import pytest

import service.usecases.pixels as pixel_usecase

RESCALE_INTERCEPT = "00281052"
PIXEL_SPACING = "00280030"


@pytest.fixture
def attribute_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """SOP UIDs whose attributes the pixel use case read from the store (cache misses)."""
    reads: list[str] = []
    load = pixel_usecase.load_attributes

    def counted(engine: Any, query: pixel_usecase.PixelQuery) -> Any:
        reads.append(query.sop_uid)
        return load(engine, query)

    monkeypatch.setattr(pixel_usecase, "load_attributes", counted)
    return reads


def _element(corpus: Any, role: str) -> dict[str, Any]:
    sop = corpus.uids(role)[2]
    return next(item for item in corpus.dump if item["00080018"]["Value"][0] == sop)


def _ingest(client: Any, instances: list[dict[str, Any]]) -> dict[str, Any]:
    answer = client.post("/v1/dumps", data=orjson.dumps(instances),
                         content_type="application/dicom+json")
    assert answer.status_code in (200, 201), answer.json
    return answer.json


def _pixels(client: Any, url: str) -> tuple[np.ndarray, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.json
    return np.load(io.BytesIO(response.data)), response.headers


def test_repeated_request_reads_no_attributes(client, corpus, attribute_reads):
    first, _ = _pixels(client, corpus.url("ct1"))
    attribute_reads.clear()
    again, _ = _pixels(client, corpus.url("ct1"))
    assert attribute_reads == []
    np.testing.assert_array_equal(again, first)


def test_reingest_that_changes_the_instance_is_seen_at_once(client, corpus, oracle,
                                                            attribute_reads):
    ds = corpus.dataset("ct1")
    original = _element(corpus, "ct1")
    before, headers = _pixels(client, corpus.url("ct1"))
    np.testing.assert_array_equal(before, oracle(ds).astype(np.float32))
    _pixels(client, corpus.url("ct1"))  # cached now

    changed = copy.deepcopy(original)
    intercept = float(ds.RescaleIntercept) + 24
    changed[RESCALE_INTERCEPT]["Value"] = [intercept]
    changed[PIXEL_SPACING]["Value"] = [0.25, 0.5]
    assert _ingest(client, [changed])["updated"] == 1
    attribute_reads.clear()
    after, headers = _pixels(client, corpus.url("ct1"))
    assert attribute_reads == [ds.SOPInstanceUID]  # the cached entry was not used
    ds.RescaleIntercept = intercept
    np.testing.assert_array_equal(after, oracle(ds).astype(np.float32))
    assert headers["X-Rescale-Intercept"] == f"{intercept:g}"
    assert headers["X-Pixel-Spacing"] == "0.25,0.5"

    # Back to the first content: its hash again, answered as before the change.
    assert _ingest(client, [original])["updated"] == 1
    restored, headers = _pixels(client, corpus.url("ct1"))
    np.testing.assert_array_equal(restored, before)
    assert float(headers["X-Rescale-Intercept"]) == intercept - 24


def test_instance_without_pixels_after_reingest_is_404(client, corpus):
    _pixels(client, corpus.url("ct2"))  # cached now
    without = {key: value for key, value in _element(corpus, "ct2").items()
               if key != "7FE00010"}
    assert _ingest(client, [without])["updated"] == 1
    response = client.get(corpus.url("ct2"))
    assert response.status_code == 404
    assert response.json["reason"] == "no-pixel-data"
