"""WADO-RS retrieve of DICOM objects (study, series, instance) through the running service,
with pydicom reading the emulator's original files as the oracle."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import orjson
import pydicom
import pytest
import requests
from dicomweb_client import DICOMwebClient
from pydicom.uid import ExplicitVRLittleEndian

from service.bulkdata.multipart_reader import parse_multipart
from service.dicomweb import wado_accept
from service.usecases.ingest import ingest_bytes
from tests.api.dicomweb.conftest import make_app, served
from tests.support.part10 import assert_same_instance
from tests.support.routes import dicomweb_path

ROLES = ["report", "ct1", "dose", "dose_rle", "j2k"]
AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def _url(server: Any, corpus: Any, role: str, level: str = "instance") -> str:
    return server.dicomweb + dicomweb_path(*corpus.uids(role), level)


def _parts(response: requests.Response) -> list[Any]:
    return parse_multipart(response.content, response.headers["Content-Type"])


@pytest.mark.parametrize("role", ROLES)
def test_instance_as_stored_is_byte_exact(server, corpus, role: str) -> None:  # type: ignore[no-untyped-def]
    answer = requests.get(_url(server, corpus, role), headers={"Accept": AS_STORED})
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["Content-Type"].startswith('multipart/related; type="application/dicom"')
    [part] = _parts(answer)
    original = corpus.files[role].read_bytes()
    syntax = str(corpus.dataset(role).file_meta.TransferSyntaxUID)
    assert part.content_type == f"application/dicom; transfer-syntax={syntax}"
    assert bytes(part.body) == original


@pytest.mark.parametrize("role", ROLES)
def test_instance_by_default_in_explicit_little_endian(dwc: DICOMwebClient, corpus,  # type: ignore[no-untyped-def]
                                                       role: str) -> None:
    study_uid, series_uid, sop_uid = corpus.uids(role)
    got = dwc.retrieve_instance(study_uid, series_uid, sop_uid,
                                media_types=(("application/dicom", ExplicitVRLittleEndian),))
    assert got.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    original = corpus.dataset(role)
    if "PixelData" in original:
        # Decoding may change the Image Pixel description (e.g. YBR → RGB); here it does not.
        assert np.array_equal(got.pixel_array, original.pixel_array)
    for element in original:
        if element.tag != 0x7FE00010:
            assert got[element.tag].value == element.value, element.keyword


def test_study_in_order_and_equal_to_the_originals(dwc: DICOMwebClient, corpus) -> None:  # type: ignore[no-untyped-def]
    study_uid = corpus.uids("ct1")[0]
    got = dwc.retrieve_study(study_uid, media_types=(("application/dicom", "*"),))
    originals = {str(ds.SOPInstanceUID): ds for ds in
                 (corpus.dataset(r) for r in ("report", "ct1", "ct2", "ct3", "ct4"))}
    assert sorted(str(ds.SOPInstanceUID) for ds in got) == sorted(originals)
    for ds in got:
        assert_same_instance(ds, originals[str(ds.SOPInstanceUID)])


def test_series_of_a_compressed_instance_decoded(dwc: DICOMwebClient, corpus) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, _ = corpus.uids("j2k")
    [got] = dwc.retrieve_series(study_uid, series_uid)
    original = corpus.dataset("j2k")
    assert got.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert np.array_equal(got.pixel_array, original.pixel_array)


@pytest.mark.parametrize("accept", [
    None, "*/*", 'multipart/related; type="application/dicom"',
    f'multipart/related; type=application/dicom; transfer-syntax={ExplicitVRLittleEndian}'])
def test_default_representations(server, corpus, accept: str | None) -> None:  # type: ignore[no-untyped-def]
    headers = {"Accept": accept} if accept is not None else {}
    answer = requests.get(_url(server, corpus, "dose_rle"), headers=headers)
    assert answer.status_code == 200
    [part] = _parts(answer)
    assert part.content_type == f"application/dicom; transfer-syntax={ExplicitVRLittleEndian}"
    got = pydicom.dcmread(io.BytesIO(bytes(part.body)))
    assert np.array_equal(got.pixel_array, corpus.dataset("dose_rle").pixel_array)


@pytest.mark.parametrize("accept", [
    'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50',
    "application/dicom+json", 'multipart/related; type="application/octet-stream"'])
def test_other_representations_are_not_acceptable(server, corpus, accept: str) -> None:  # type: ignore[no-untyped-def]
    answer = requests.get(_url(server, corpus, "ct1", "series"), headers={"Accept": accept})
    assert answer.status_code == 406
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["available"] == list(wado_accept.INSTANCE_REPRESENTATIONS)


def test_unknown_resources_are_404_problems(server, corpus) -> None:  # type: ignore[no-untyped-def]
    study_uid, series_uid, _ = corpus.uids("ct1")
    for url in (f"{server.dicomweb}/studies/1.2.3",
                f"{server.dicomweb}/studies/{study_uid}/series/1.2.3",
                f"{server.dicomweb}/studies/{study_uid}/series/{series_uid}/instances/1.2.3"):
        answer = requests.get(url, headers={"Accept": AS_STORED})
        assert answer.status_code == 404
        assert answer.headers["Content-Type"] == "application/problem+json"
    assert requests.get(f"{server.dicomweb}/studies/not-a-uid").status_code == 400


def test_study_is_fetched_with_instance_retrieves(server, corpus) -> None:  # type: ignore[no-untyped-def]
    server.emulator.clear_log()
    answer = requests.get(_url(server, corpus, "ct1", "study"), headers={"Accept": AS_STORED})
    assert answer.status_code == 200 and len(_parts(answer)) == 5
    instance_gets = [r for r in server.emulator.requests if r.path.rsplit("/", 2)[-2]
                     == "instances"]
    assert len(instance_gets) == 5
    assert {r.headers["Accept"] for r in instance_gets} == {"application/dicom; transfer-syntax=*"}
    assert all(r.headers["Authorization"] == "<redacted>" for r in instance_gets)


def _inline(instance: dict[str, Any], ds: pydicom.Dataset) -> dict[str, Any]:
    """The instance as an exporter without BulkDataURIs would write it: values inline."""
    inlined = {}
    for tag, attribute in instance.items():
        if "BulkDataURI" in attribute:
            number = int(tag, 16)
            element = ds.file_meta[number] if number >> 16 == 2 else ds[number]
            attribute = {"vr": attribute["vr"],
                         "InlineBinary": base64.b64encode(element.value).decode()}
        inlined[tag] = attribute
    return inlined


def test_instance_without_bulkdata_uris_is_rebuilt(server, corpus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No BulkDataURI names a Google store: the Part 10 file is rebuilt from the JSON."""
    roles = ["ct1", "dose_rle"]
    dump = [_inline(instance, corpus.dataset(role)) for role in roles
            for instance in corpus.dump if instance["00080018"]["Value"][0] == corpus.uids(role)[2]]
    app = make_app(server.emulator, tmp_path / "inline.sqlite3")
    ingest_bytes(app.extensions["engine"], orjson.dumps(dump))
    with served(app, server.emulator) as inline:
        server.emulator.clear_log()
        for role in roles:
            for accept, same_bytes in ((AS_STORED, True), (None, False)):
                answer = requests.get(_url(inline, corpus, role),
                                      headers={"Accept": accept} if accept else {})
                assert answer.status_code == 200
                [part] = _parts(answer)
                got = pydicom.dcmread(io.BytesIO(bytes(part.body)))
                assert_same_instance(got, corpus.dataset(role), same_encoding=same_bytes)
                stored = str(corpus.dataset(role).file_meta.TransferSyntaxUID)
                assert str(got.file_meta.TransferSyntaxUID) == (
                    stored if same_bytes else ExplicitVRLittleEndian)
        assert server.emulator.requests == []  # nothing to fetch: every value was inline


def test_transcode_upstream_asks_google_for_explicit_little_endian(server, corpus,  # type: ignore[no-untyped-def]
                                                                   tmp_path) -> None:
    app = make_app(server.emulator, tmp_path / "transcode.sqlite3", dumps=[corpus.dump],
                   transcode_upstream=True)
    with served(app, server.emulator) as transcoding:
        server.emulator.clear_log()
        answer = requests.get(_url(transcoding, corpus, "j2k"))
        [part] = _parts(answer)
        got = pydicom.dcmread(io.BytesIO(bytes(part.body)))
        assert got.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert_same_instance(got, corpus.dataset("j2k"), same_encoding=False)
        [fetch] = [r for r in server.emulator.requests if r.path.endswith(corpus.uids("j2k")[2])]
        assert fetch.headers["Accept"] == (
            f"application/dicom; transfer-syntax={ExplicitVRLittleEndian}")


def test_a_failure_before_the_first_part_is_a_problem(server, corpus) -> None:  # type: ignore[no-untyped-def]
    report_sop = corpus.uids("report")[2]
    server.emulator.inject(path_substring=report_sop, status=403, count=1)
    try:
        answer = requests.get(_url(server, corpus, "report"), headers={"Accept": AS_STORED})
    finally:
        server.emulator.clear_faults()
    assert answer.status_code == 502
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["upstream_status"] == 403


def test_a_failure_mid_stream_cuts_the_body_short(server, corpus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One instance fetched at a time: the fourth fails after three parts were sent; the
    client must not receive a body that looks complete."""
    app = make_app(server.emulator, tmp_path / "one.sqlite3", dumps=[corpus.dump],
                   retrieve_fetch_concurrency=1)
    with served(app, server.emulator) as single:
        study_uid = corpus.uids("ct1")[0]
        order = [ds for ds in (corpus.dataset(r) for r in ("report", "ct1", "ct2", "ct3", "ct4"))]
        order.sort(key=lambda ds: (str(ds.SeriesInstanceUID), int(ds.InstanceNumber)))
        server.emulator.inject(path_substring=str(order[3].SOPInstanceUID), status=403, count=1)
        try:
            with requests.get(f"{single.dicomweb}/studies/{study_uid}",
                              headers={"Accept": AS_STORED}, stream=True) as answer:
                assert answer.status_code == 200
                body = b""
                with pytest.raises(requests.exceptions.ChunkedEncodingError):
                    for chunk in answer.iter_content(65536):
                        body += chunk
        finally:
            server.emulator.clear_faults()
        boundary = answer.headers["Content-Type"].split("boundary=")[1]
        assert f"--{boundary}--".encode() not in body  # never the closing delimiter
        assert body.count(f"--{boundary}\r\n".encode()) == 3


def test_head_answers_without_a_body(server, corpus) -> None:  # type: ignore[no-untyped-def]
    answer = requests.head(_url(server, corpus, "ct1", "series"), headers={"Accept": AS_STORED})
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["Content-Type"].startswith('multipart/related; type="application/dicom"')
