"""BulkDataClient end to end: real google-auth service-account flow against the emulator;
pixel bytes compared with what pydicom reads from the same files."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pydicom
import pytest
from pydicom.encaps import generate_frames
from pydicom.uid import ExplicitVRLittleEndian

from service.bulkdata.client import BulkDataClient
from service.emulator.wire import encode_multipart
from service.errors import ServiceUnavailable, Unprocessable


def bulkdata_requests(emulator):
    return [r for r in emulator.requests if "/bulkdata/" in r.path]


@pytest.mark.parametrize("name", ["ct1", "multiframe", "rle"])
def test_stored_bytes_equal_pydicom(client, emulator, instances, name, fetch):
    written = instances[name]
    result = fetch(client, emulator, written)
    assert bytes(result.data) == pydicom.dcmread(written.path).PixelData
    assert result.transfer_syntax_uid == written.transfer_syntax
    assert result.frames is None
    [seen] = bulkdata_requests(emulator)
    assert seen.headers["Accept"] == "application/octet-stream; transfer-syntax=*"
    assert seen.headers["Authorization"] == "<redacted>" and seen.status == 200


def test_one_token_for_many_fetches_and_cache_hits(client, emulator, instances, fetch):
    for name in ("ct1", "ct2", "ct3", "ct1", "ct2"):
        fetch(client, emulator, instances[name])
    assert emulator.token_requests == 1
    assert len(bulkdata_requests(emulator)) == 3
    assert client.cache.stats()["hits"] == 2


def test_multipart_answer_is_parsed(client, emulator, instances, fetch):
    written = instances["ct2"]
    stored = pydicom.dcmread(written.path).PixelData
    part_type = f"application/octet-stream; transfer-syntax={written.transfer_syntax}"
    emulator.inject(status=200, body=encode_multipart([(stored, part_type, "/x")], "b0undary"),
                    content_type='multipart/related; type="application/octet-stream"; '
                                 'boundary="b0undary"')
    result = fetch(client, emulator, written)
    assert bytes(result.data) == stored
    assert isinstance(result.data, memoryview)
    assert result.content_type == part_type


@pytest.mark.parametrize("multipart", [False, True])
def test_gzip_content_encoding(client, emulator, instances, multipart, fetch):
    written = instances["ct3"]
    stored = pydicom.dcmread(written.path).PixelData
    if multipart:
        emulator.inject(status=200, gzip=True,
                        body=encode_multipart([(stored, "application/octet-stream", "/x")], "zz"),
                        content_type="multipart/related; boundary=zz")
    else:
        emulator.inject(status=200, gzip=True)
    assert bytes(fetch(client, emulator, written).data) == stored
    assert bulkdata_requests(emulator)[0].status == 200


def test_frames_as_stored(client, emulator, instances):
    written = instances["multiframe"]
    ds = pydicom.dcmread(written.path)
    frame_size = 64 * 64 * 2
    url = emulator.instance_url(written.study_uid, written.series_uid, written.sop_uid)
    result = client.fetch_frames(url, [1, 3], transfer_syntax=None)
    assert result.frames == [ds.PixelData[:frame_size], ds.PixelData[2 * frame_size:]]
    assert bytes(result.data) == b"".join(result.frames)
    assert result.transfer_syntax_uid == written.transfer_syntax
    assert emulator.requests[-1].path.endswith("/frames/1,3")


def test_rle_frames_stored_and_transcoded(client, emulator, instances):
    written = instances["rle"]
    ds = pydicom.dcmread(written.path)
    url = emulator.instance_url(written.study_uid, written.series_uid, written.sop_uid)
    stored = client.fetch_frames(url, [1], transfer_syntax="*")
    assert stored.frames == list(generate_frames(ds.PixelData, number_of_frames=1))
    transcoded = client.fetch_frames(url, [1], transfer_syntax=ExplicitVRLittleEndian)
    assert transcoded.data == ds.pixel_array.astype("<i2").tobytes()
    assert transcoded.transfer_syntax_uid == ExplicitVRLittleEndian


def test_transcode_upstream_uses_the_frames_route(make_client, make_settings, emulator,
                                                  instances, fetch):
    client = make_client(make_settings(transcode_upstream=True))
    written = instances["rle"]
    result = fetch(client, emulator, written)
    assert result.data == pydicom.dcmread(written.path).pixel_array.astype("<i2").tobytes()
    assert result.transfer_syntax_uid == ExplicitVRLittleEndian
    assert emulator.requests[-1].path.endswith("/frames/1")
    native = fetch(client, emulator, instances["ct1"])  # native data: still the bulkdata route
    assert native.frames is None and "/bulkdata/" in emulator.requests[-1].path


def test_instance_url_derived_from_another_bulkdata_uri(client, emulator, instances, fetch):
    written = instances["ct1"]
    hint = emulator.bulkdata_uri(written.study_uid, written.series_uid, written.sop_uid,
                                 "00020001")
    result = fetch(client, emulator, written, pixel_data_uri=None, instance_uri_hint=hint)
    assert bytes(result.data) == pydicom.dcmread(written.path).PixelData
    assert emulator.requests[-1].path.endswith(f"/instances/{written.sop_uid}/bulkdata/7FE00010")


def test_instance_url_derived_from_the_configured_store(make_client, make_settings, emulator,
                                                        instances, fetch):
    client = make_client(make_settings(dicom_store=emulator.store_path))
    written = instances["ct2"]
    result = fetch(client, emulator, written, pixel_data_uri=None)
    assert bytes(result.data) == pydicom.dcmread(written.path).PixelData
    with pytest.raises(Unprocessable, match="not a valid DICOM UID"):
        fetch(client, emulator, written, pixel_data_uri=None, sop_uid="1.2/../../x")


def test_no_uri_and_no_store_is_unprocessable(client, emulator, instances, fetch):
    with pytest.raises(Unprocessable, match="DICOM_RESOLVER_DICOM_STORE"):
        fetch(client, emulator, instances["ct1"], pixel_data_uri=None)
    assert emulator.requests == []


def test_single_flight_through_the_client(client, emulator, instances, fetch):
    emulator.inject(status=200, delay=0.3)  # hold the first fetch open while others arrive
    written = instances["ct3"]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: fetch(client, emulator, written), range(16)))
    assert len(bulkdata_requests(emulator)) == 1
    assert all(bytes(r.data) == bytes(results[0].data) for r in results)


def test_concurrent_first_requests_refresh_once(client, emulator, instances):
    emulator.inject("/token", status=200, delay=0.3)  # widen the race window
    written = instances["multiframe"]
    url = emulator.instance_url(written.study_uid, written.series_uid, written.sop_uid)
    barrier = threading.Barrier(16)

    def one(number: int):
        barrier.wait()
        return client.fetch_frames(url, [number % 3 + 1], transfer_syntax=None)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    assert emulator.token_requests == 1
    assert len(results) == 16 and all(len(r.data) == 64 * 64 * 2 for r in results)


def test_application_default_credentials(monkeypatch, make_settings, emulator, instances, fetch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(emulator.key_file))
    client = BulkDataClient(make_settings())
    try:
        written = instances["ct1"]
        assert bytes(fetch(client, emulator, written).data) == \
            pydicom.dcmread(written.path).PixelData
        assert emulator.token_requests == 1
    finally:
        client.close()


def test_no_credentials_is_503_and_lazy(monkeypatch, tmp_path, make_settings, emulator,
                                        instances, fetch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    client = BulkDataClient(make_settings())  # constructing never needs credentials
    with pytest.raises(ServiceUnavailable) as caught:
        fetch(client, emulator, instances["ct1"])
    assert caught.value.status == 503
    assert "GOOGLE_APPLICATION_CREDENTIALS" in caught.value.detail
    assert emulator.requests == []
    client.close()
