"""WADO-RS through dicomweb-client: metadata, frames, bulk data and rendered images,
checked against the fixture dumps and against pydicom reading the same files."""

from __future__ import annotations

import io

import numpy as np
import orjson
import pydicom
import pytest
import requests
from dicomweb_client import DICOMwebClient
from PIL import Image
from pydicom.encaps import generate_frames

from service.usecases.ingest import ingest_bytes
from tests.api.dicomweb.conftest import make_app, served


def _by_sop(instances: list[dict]) -> dict[str, dict]:
    return {i["00080018"]["Value"][0]: i for i in instances}


def _expected_json(instance: dict, base: str) -> bytes:
    """The stored instance with its Google BulkDataURIs pointing at the service."""
    text = orjson.dumps(instance).decode()
    head = text.split("/dicomWeb/studies/")[0].rsplit('"', 1)[-1] if "/dicomWeb/" in text else ""
    return orjson.loads(text.replace(head + "/dicomWeb/", base + "/dicomweb/")) if head else \
        instance


def test_metadata_at_every_level(dwc: DICOMwebClient, corpus, server) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, sop_uid = corpus.uids("ct1")
    stored = _by_sop(corpus.dump)
    study = dwc.retrieve_study_metadata(study_uid)
    series = dwc.retrieve_series_metadata(study_uid, series_uid)
    instance = dwc.retrieve_instance_metadata(study_uid, series_uid, sop_uid)
    in_study = [i for i in corpus.dump if i["0020000D"]["Value"][0] == study_uid]
    assert sorted(_by_sop(study)) == sorted(_by_sop(in_study))
    assert {i["0020000E"]["Value"][0] for i in series} == {series_uid}
    assert instance["00080018"]["Value"][0] == sop_uid
    for answer in study:
        sop = answer["00080018"]["Value"][0]
        assert answer == _expected_json(stored[sop], server.url)
        pixel_uri = answer.get("7FE00010", {}).get("BulkDataURI")
        if pixel_uri:
            assert pixel_uri.startswith(server.dicomweb + f"/studies/{study_uid}/series/")
            assert "googleapis" not in orjson.dumps(answer).decode()


def test_metadata_etag_and_last_modified(server, corpus) -> None:  # type: ignore[no-untyped-def]
    study_uid = corpus.uids("ct1")[0]
    url = f"{server.dicomweb}/studies/{study_uid}/metadata"
    first = requests.get(url)
    assert first.status_code == 200 and first.headers["ETag"] and first.headers["Last-Modified"]
    again = requests.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    other = requests.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content
    assert requests.get(f"{server.dicomweb}/studies/1.2.3/metadata").status_code == 404


@pytest.mark.parametrize("role", ["ct1", "dose", "dose_rle", "j2k"])
def test_frames_match_pydicom(dwc: DICOMwebClient, corpus, role: str) -> None:  # type: ignore[no-untyped-def]
    ds = corpus.dataset(role)
    study_uid, series_uid, sop_uid = corpus.uids(role)
    count = int(ds.get("NumberOfFrames", 1))
    numbers = [1] if count == 1 else [2, count, 1]
    frames = dwc.retrieve_instance_frames(study_uid, series_uid, sop_uid, numbers)
    pixels = ds.pixel_array if count > 1 else ds.pixel_array[np.newaxis]
    dtype = pixels.dtype.newbyteorder("<")
    assert len(frames) == len(numbers)
    for number, body in zip(numbers, frames, strict=True):
        assert body == pixels[number - 1].astype(dtype).tobytes(), (role, number)


def test_frames_as_stored(server, corpus) -> None:  # type: ignore[no-untyped-def]
    ds = corpus.dataset("dose_rle")
    study_uid, series_uid, sop_uid = corpus.uids("dose_rle")
    client = DICOMwebClient(url=server.dicomweb)
    syntax = str(ds.file_meta.TransferSyntaxUID)
    frames = client.retrieve_instance_frames(
        study_uid, series_uid, sop_uid, [3, 1],
        media_types=(("application/octet-stream", "*"),))
    stored = list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
    assert frames == [stored[2], stored[0]]
    answer = requests.get(f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}/instances/"
                          f"{sop_uid}/frames/1", headers={
                              "Accept": f'multipart/related; type="image/dicom-rle"; '
                                        f'transfer-syntax={syntax}'})
    assert answer.status_code == 200 and f"transfer-syntax={syntax}" in answer.text[:400]
    refused = requests.get(answer.url, headers={"Accept": 'multipart/related; type="image/jp2"'})
    assert refused.status_code == 406
    assert refused.headers["Content-Type"] == "application/problem+json"


def test_frame_multipart_shape(server, corpus) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, sop_uid = corpus.uids("dose")
    url = f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/frames/1"
    answers = [requests.get(url, headers={"Accept": 'multipart/related; type="application/'
                                                    'octet-stream"'}) for _ in range(2)]
    boundaries = [a.headers["Content-Type"].split("boundary=")[1].split(";")[0]
                  for a in answers]
    assert boundaries[0] != boundaries[1]  # random per response
    assert answers[0].headers["Content-Type"].startswith(
        'multipart/related; type="application/octet-stream"')
    assert b"Content-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1" \
        in answers[0].content
    assert requests.get(url.replace("/frames/1", "/frames/99")).status_code == 404
    assert requests.get(url.replace("/frames/1", "/frames/0")).status_code == 400


def test_multi_frame_instance_is_fetched_once(server, corpus) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, sop_uid = corpus.uids("dose_rle")
    client = DICOMwebClient(url=server.dicomweb)
    server.emulator.clear_log()
    for number in (4, 5, 6):
        client.retrieve_instance_frames(study_uid, series_uid, sop_uid, [number])
    upstream = [r.path for r in server.emulator.requests if sop_uid in r.path]
    assert len(upstream) <= 1


def test_bulkdata_through_the_rewritten_uri(dwc: DICOMwebClient, corpus) -> None:  # type: ignore[no-untyped-def]
    ds = corpus.dataset("ct2")
    study_uid, series_uid, sop_uid = corpus.uids("ct2")
    metadata = dwc.retrieve_instance_metadata(study_uid, series_uid, sop_uid)
    uri = metadata["7FE00010"]["BulkDataURI"]
    assert dwc.retrieve_bulkdata(uri) == [ds.PixelData]
    part = dwc.retrieve_bulkdata(uri, byte_range=(10, 29))
    assert part == [ds.PixelData[10:30]]


def test_bulkdata_single_part_range_and_errors(server, corpus) -> None:  # type: ignore[no-untyped-def]
    ds = corpus.dataset("ct3")
    study_uid, series_uid, sop_uid = corpus.uids("ct3")
    url = (f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"
           "/bulkdata/7FE00010")
    whole = requests.get(url, headers={"Accept": "application/octet-stream"})
    assert whole.status_code == 200 and whole.content == ds.PixelData
    ranged = requests.get(url, headers={"Accept": "application/octet-stream",
                                        "Range": "bytes=100-"})
    assert ranged.status_code == 206 and ranged.content == ds.PixelData[100:]
    assert ranged.headers["Content-Range"] == f"bytes 100-{len(ds.PixelData) - 1}/" \
                                              f"{len(ds.PixelData)}"
    multipart = requests.get(url)
    assert f"Content-Location: {url}".encode() in multipart.content
    assert requests.get(url, headers={"Range": "bytes=99999999-"}).status_code == 416
    assert requests.get(url, headers={"Accept": "image/png"}).status_code == 406
    assert requests.get(url.replace("7FE00010", "00099999")).status_code == 404


@pytest.mark.parametrize(("accept", "fmt"), [("image/png", "PNG"), ("image/jpeg", "JPEG"),
                                             (None, "JPEG")])
def test_rendered(server, corpus, accept, fmt) -> None:  # type: ignore[no-untyped-def]
    ds = corpus.dataset("ct1")
    study_uid, series_uid, sop_uid = corpus.uids("ct1")
    base = f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"
    headers = {"Accept": accept} if accept else {}
    for url in (base + "/rendered?window=40,400", base + "/frames/1/rendered?window=40,400"):
        answer = requests.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
        image = Image.open(io.BytesIO(answer.content))
        assert image.format == fmt and image.size == (ds.Columns, ds.Rows)
        if fmt == "PNG":
            hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            expected = np.clip(((hu - 39.5) / 399 + 0.5) * 255, 0, 255)
            assert np.abs(np.asarray(image).astype(float) - expected).max() <= 1.0
    small = requests.get(base + "/rendered?viewport=16,16", headers={"Accept": "image/png"})
    assert Image.open(io.BytesIO(small.content)).size == (16, 16)
    assert requests.get(base + "/rendered?window=40,400,sigmoid").status_code == 400
    unknown = requests.get(base + "/rendered?colour=red")
    assert unknown.status_code == 400 and unknown.json()["parameter"] == "colour"


def test_round_trip_through_post_dumps(server, corpus, emulator, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What QIDO and WADO metadata answer, ingested again, answers the same."""
    source = DICOMwebClient(url=server.dicomweb)
    study_uid = corpus.uids("ct1")[0]
    metadata = source.retrieve_study_metadata(study_uid)
    with served(make_app(emulator, tmp_path / "copy.sqlite3"), emulator) as copy:
        url = copy.url
        posted = requests.post(url + "/v1/dumps", data=orjson.dumps(metadata),
                               headers={"Content-Type": "application/dicom+json"})
        assert posted.status_code in (200, 201), posted.text
        target = DICOMwebClient(url=url + "/dicomweb")
        again = target.retrieve_study_metadata(study_uid)
        # Our own BulkDataURIs are not Google's: the copy keeps them as they are.
        assert _by_sop(again) == _by_sop(metadata)
        for search in ("search_for_studies", "search_for_series", "search_for_instances"):
            before = getattr(source, search)(search_filters={"StudyInstanceUID": study_uid},
                                             fields=["all"], get_remaining=True)
            after = getattr(target, search)(search_filters={"StudyInstanceUID": study_uid},
                                            fields=["all"], get_remaining=True)
            left, right = _without_retrieve_url(before), _without_retrieve_url(after)
            assert len(left) == len(right)
            assert [sorted(set(a) ^ set(b)) for a, b in zip(left, right, strict=True)] == \
                [[]] * len(left)
            assert left == right, search
        instances = source.search_for_instances(study_uid, fields=["all"])
        third = make_app(emulator, tmp_path / "third.sqlite3")
        ingest_bytes(third.extensions["engine"], orjson.dumps(instances))
        with third.test_client() as client:
            answer = client.get(f"/dicomweb/studies/{study_uid}/instances?includefield=all")
        assert _by_sop(_without_retrieve_url(answer.json)) == _by_sop(
            _without_retrieve_url(instances))
        third.extensions["engine"].dispose()


def _without_retrieve_url(items: list[dict]) -> list[dict]:
    """Answers without RetrieveURL (00081190), which names each server itself."""
    return [{key: value for key, value in item.items() if key != "00081190"} for item in items]


def test_pydicom_reads_metadata(dwc: DICOMwebClient, corpus) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, sop_uid = corpus.uids("j2k")
    metadata = dwc.retrieve_instance_metadata(study_uid, series_uid, sop_uid)
    ds = pydicom.Dataset.from_json(metadata, bulk_data_uri_handler=lambda *_: b"")
    oracle = corpus.dataset("j2k")
    assert ds.Rows == oracle.Rows and ds.SOPInstanceUID == oracle.SOPInstanceUID
