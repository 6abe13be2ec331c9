"""Single-part frames (PS3.18 §8.7.3.3.2): application/octet-stream for one frame, and the
image media type of a compressed stored syntax; multipart stays the default."""

from __future__ import annotations

import pytest
import requests
from pydicom.encaps import generate_frames

from service.bulkdata.multipart_reader import parse_multipart
from service.dicomweb import wado_accept

EXPLICIT = "1.2.840.10008.1.2.1"
JPEG_BASELINE, JPEG_LS, J2K, RLE = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.80",
                                    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5")


@pytest.mark.parametrize(("accept", "stored", "expected"), [
    ("application/octet-stream", EXPLICIT, ("application/octet-stream", EXPLICIT, False)),
    ("application/octet-stream", J2K, ("application/octet-stream", EXPLICIT, False)),
    ("application/octet-stream; transfer-syntax=*", J2K, ("application/octet-stream", J2K, True)),
    ("application/octet-stream; transfer-syntax=*", EXPLICIT,
     ("application/octet-stream", EXPLICIT, False)),
    ("image/jpeg; transfer-syntax=*", JPEG_BASELINE, ("image/jpeg", JPEG_BASELINE, True)),
    ("image/jls", JPEG_LS, ("image/jls", JPEG_LS, True)),
    ("image/jp2; transfer-syntax=*", J2K, ("image/jp2", J2K, True)),
    ("image/jpeg, application/octet-stream", J2K, ("application/octet-stream", EXPLICIT, False)),
])
def test_single_frame_negotiation(accept: str, stored: str, expected: tuple) -> None:
    choice = wado_accept.choose_frames(accept, stored, single_frame=True)
    assert (choice.part_type, choice.transfer_syntax, choice.stored) == expected
    assert choice.single


@pytest.mark.parametrize(("accept", "stored", "single_frame"), [
    ("application/octet-stream", EXPLICIT, False),  # several frames: multipart only
    ("image/jpeg", J2K, True),
    ("image/jp2", EXPLICIT, True),
    ("image/jp2; transfer-syntax=1.2.840.10008.1.2.4.91", J2K, True),
])
def test_single_frame_refusals(accept: str, stored: str, single_frame: bool) -> None:
    with pytest.raises(wado_accept.NotAcceptableError):
        wado_accept.choose_frames(accept, stored, single_frame=single_frame)


def test_multipart_stays_the_default() -> None:
    for accept in (None, "*/*"):
        assert not wado_accept.choose_frames(accept, J2K, single_frame=True).single


def _frame_url(server, corpus, role: str, frames: str) -> str:  # type: ignore[no-untyped-def]
    study_uid, series_uid, sop_uid = corpus.uids(role)
    return (f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"
            f"/frames/{frames}")


def test_octet_stream_single_frame_is_the_decoded_frame(server, corpus) -> None:  # type: ignore[no-untyped-def]
    ds = corpus.dataset("dose_rle")
    answer = requests.get(_frame_url(server, corpus, "dose_rle", "2"),
                          headers={"Accept": "application/octet-stream"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == f"application/octet-stream; transfer-syntax={EXPLICIT}"
    pixels = ds.pixel_array
    assert answer.content == pixels[1].astype(pixels.dtype.newbyteorder("<")).tobytes()
    several = requests.get(_frame_url(server, corpus, "dose_rle", "1,2"),
                           headers={"Accept": "application/octet-stream"})
    assert several.status_code == 406
    assert several.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("accept", ["image/jp2", "image/jp2; transfer-syntax=*",
                                    "application/octet-stream; transfer-syntax=*"])
def test_compressed_frame_single_part_as_stored(server, corpus, accept: str) -> None:  # type: ignore[no-untyped-def]
    ds = corpus.dataset("j2k")
    answer = requests.get(_frame_url(server, corpus, "j2k", "1"), headers={"Accept": accept})
    assert answer.status_code == 200
    media = accept.split(";")[0]
    assert answer.headers["Content-Type"] == f"{media}; transfer-syntax={J2K}"
    assert answer.content == next(generate_frames(ds.PixelData, number_of_frames=1))


def test_image_type_of_another_syntax_is_406(server, corpus) -> None:  # type: ignore[no-untyped-def]
    answer = requests.get(_frame_url(server, corpus, "j2k", "1"), headers={"Accept": "image/jpeg"})
    assert answer.status_code == 406
    assert "image/jp2" in answer.json()["detail"]
    default = requests.get(_frame_url(server, corpus, "j2k", "1"))
    assert default.headers["Content-Type"].startswith("multipart/related")
    [part] = parse_multipart(default.content, default.headers["Content-Type"])
    pixels = corpus.dataset("j2k").pixel_array
    assert bytes(part.body) == pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()

