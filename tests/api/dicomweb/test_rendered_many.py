"""Thumbnails at every level and rendered series/studies, against pydicom's windowing of the
original files (PS3.3 C.11.2.1.2 linear window) and the instance-level rendered route."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import requests
from PIL import Image

from service.bulkdata.multipart_reader import parse_multipart
from tests.api.dicomweb.oracle import windowed

CT_ROLES = ("ct1", "ct2", "ct3", "ct4")



def _middle_ct(corpus: Any) -> str:
    ordered = sorted(CT_ROLES, key=lambda role: int(corpus.dataset(role).InstanceNumber))
    return ordered[(len(ordered) - 1) // 2]


def _png(answer: requests.Response) -> np.ndarray:
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(answer.content))
    assert image.format == "PNG"
    return np.asarray(image).astype(float)


def test_series_and_study_thumbnails_show_the_middle_image(server, corpus) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, _ = corpus.uids("ct1")
    expected = windowed(corpus.dataset(_middle_ct(corpus)))
    for url in (f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}/thumbnail",
                f"{server.dicomweb}/studies/{study_uid}/thumbnail"):
        got = _png(requests.get(url, headers={"Accept": "image/png"}))
        # 32×32 fits in the default 128×128 box: not enlarged.
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1.0


def test_instance_and_frame_thumbnails(server, corpus) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, sop_uid = corpus.uids("dose")
    base = f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"
    for thumbnail, rendered in ((f"{base}/thumbnail", f"{base}/rendered"),
                                (f"{base}/frames/3/thumbnail", f"{base}/frames/3/rendered")):
        small = requests.get(thumbnail + "?viewport=8,8&accept=image/png")
        assert Image.open(io.BytesIO(small.content)).size[0] <= 8
        same = requests.get(thumbnail + "?viewport=128,128", headers={"Accept": "image/png"})
        full = requests.get(rendered + "?viewport=128,128", headers={"Accept": "image/png"})
        assert np.array_equal(_png(same), _png(full))
    jpeg = requests.get(f"{base}/thumbnail?accept=image/jpeg")  # what OHIF asks for
    assert jpeg.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(jpeg.content)).format == "JPEG"


@pytest.mark.parametrize("level", ["study", "series", "instance"])
def test_unsupported_media_types_are_406_naming_the_offer(server, corpus, level) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, sop_uid = corpus.uids("ct1")
    url = {"study": f"{server.dicomweb}/studies/{study_uid}",
           "series": f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}",
           "instance": f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}/instances/"
                       f"{sop_uid}"}[level]
    for suffix in ("/thumbnail", "/rendered"):
        answer = requests.get(url + suffix, headers={"Accept": "image/gif"})
        assert answer.status_code == 406
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert {"image/jpeg", "image/png"} <= set(answer.json()["available"])


def test_rendered_series_single_image_is_the_middle_one(server, corpus) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, _ = corpus.uids("ct1")
    got = _png(requests.get(f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}/"
                            "rendered", headers={"Accept": "image/png"}))
    assert np.abs(got - windowed(corpus.dataset(_middle_ct(corpus)))).max() <= 1.0


@pytest.mark.parametrize("level", ["series", "study"])
def test_rendered_series_and_study_as_multipart(server, corpus, level) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, _ = corpus.uids("ct1")
    url = f"{server.dicomweb}/studies/{study_uid}"
    if level == "series":
        url += f"/series/{series_uid}"
    answer = requests.get(url + "/rendered",
                          headers={"Accept": 'multipart/related; type="image/png"'})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith('multipart/related; type="image/png"')
    parts = parse_multipart(answer.content, answer.headers["Content-Type"])
    ordered = sorted(CT_ROLES, key=lambda role: int(corpus.dataset(role).InstanceNumber))
    assert len(parts) == len(ordered)  # the SR report has nothing to render
    for part, role in zip(parts, ordered, strict=True):
        assert part.content_type == "image/png"
        image = np.asarray(Image.open(io.BytesIO(bytes(part.body)))).astype(float)
        assert np.abs(image - windowed(corpus.dataset(role))).max() <= 1.0


def test_non_image_resources_say_so(server, corpus) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, sop_uid = corpus.uids("report")
    series = f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}"
    for url in (f"{series}/thumbnail", f"{series}/rendered",
                f"{series}/instances/{sop_uid}/thumbnail"):
        answer = requests.get(url)
        assert answer.status_code == 404
        assert answer.json()["reason"] == "no-pixel-data", url
    missing = requests.get(f"{server.dicomweb}/studies/1.2.3/thumbnail")
    assert missing.status_code == 404 and "not stored" in missing.json()["detail"]
    bad = requests.get(f"{series}/thumbnail?viewport=0,10")
    assert bad.status_code == 400 and bad.json()["parameter"] == "viewport"
