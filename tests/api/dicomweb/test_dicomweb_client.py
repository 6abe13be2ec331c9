"""Every search and retrieve method of dicomweb-client's DICOMwebClient, unchanged and with
default settings, against the service under gunicorn on a non-default port, with the
Healthcare API emulator behind it; on SQLite, or on PostgreSQL when the suite runs there
(DICOM_RESOLVER_TEST_DATABASE_URL). pydicom reading the emulator's files is the oracle."""

from __future__ import annotations

import inspect
import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pydicom
import pytest
import requests
from dicomweb_client import DICOMwebClient
from PIL import Image

from service.emulator.server import Emulator
from tests.api.dicomweb.oracle import windowed
from tests.support.gunicorn import GunicornServer
from tests.support.part10 import assert_same_instance

CT_ROLES = ("ct1", "ct2", "ct3", "ct4")


@pytest.fixture(scope="module")
def service(corpus: Any, emulator: Emulator, module_database_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[GunicornServer]:
    """gunicorn with nothing but the store, the emulator's root and its key configured
    (no PUBLIC_BASE_URL): the URLs it writes must still carry its port."""
    folder = tmp_path_factory.mktemp("dwc-gunicorn")
    server = GunicornServer(
        module_database_url, folder / "gunicorn.log", workers=2,
        DICOM_RESOLVER_HEALTHCARE_API_ROOT=emulator.api_root,
        DICOM_RESOLVER_MIGRATE_ON_START="true",
        GOOGLE_APPLICATION_CREDENTIALS=str(emulator.key_file),
        CLOUDSDK_CONFIG=str(folder / "gcloud"), NO_GCE_CHECK="True")
    try:
        assert server.port not in (80, 8080)
        ingested = requests.post(f"{server.url}/v1/dumps", data=orjson.dumps(corpus.dump),
                                 headers={"Content-Type": "application/dicom+json"}, timeout=60)
        assert ingested.status_code in (200, 201), ingested.text[:300]
        yield server
    finally:
        assert server.stop() == 0, server.stderr[-2000:]


@pytest.fixture
def dwc(service: GunicornServer) -> DICOMwebClient:
    return DICOMwebClient(url=f"{service.url}/dicomweb")


def _uid(dataset: dict[str, Any], tag: str) -> str:
    return dataset[tag]["Value"][0]


def _in_study(corpus: Any, study_uid: str) -> set[str]:
    return {_uid(i, "00080018") for i in corpus.dump if _uid(i, "0020000D") == study_uid}


def _originals(corpus: Any, roles: tuple[str, ...]) -> dict[str, pydicom.Dataset]:
    return {str(ds.SOPInstanceUID): ds for ds in (corpus.dataset(role) for role in roles)}


def test_every_search_and_retrieve_method_is_covered() -> None:
    """A dicomweb-client upgrade that adds a method fails here until it has a test."""
    names = {name for name, _ in inspect.getmembers(DICOMwebClient, inspect.isfunction)
             if name.startswith(("search_", "retrieve_", "iter_"))}
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    assert names <= tested, sorted(names - tested)


def test_search_for_studies(dwc: DICOMwebClient, corpus: Any, service: GunicornServer) -> None:
    studies = dwc.search_for_studies()
    expected = {_uid(i, "0020000D") for i in corpus.dump}
    assert {_uid(s, "0020000D") for s in studies} == expected
    for study in studies:
        retrieve_url = study["00081190"]["Value"][0]
        assert retrieve_url == f"{service.url}/dicomweb/studies/{_uid(study, '0020000D')}"
    # The RetrieveURL leads to the study's DICOM objects, as Orthanc follows it.
    followed = requests.get(studies[0]["00081190"]["Value"][0], timeout=60, headers={
        "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'})
    assert followed.status_code == 200
    assert followed.content.count(b"Content-Type: application/dicom") == len(
        _in_study(corpus, _uid(studies[0], "0020000D")))


def test_search_for_series(dwc: DICOMwebClient, corpus: Any) -> None:
    study_uid = corpus.uids("ct1")[0]
    series = dwc.search_for_series(study_uid)
    expected = {_uid(i, "0020000E") for i in corpus.dump if _uid(i, "0020000D") == study_uid}
    assert {_uid(s, "0020000E") for s in series} == expected


def test_search_for_instances(dwc: DICOMwebClient, corpus: Any) -> None:
    study_uid, series_uid, _ = corpus.uids("ct1")
    found = dwc.search_for_instances(study_uid, series_uid)
    assert {_uid(i, "00080018") for i in found} == {corpus.uids(r)[2] for r in CT_ROLES}


def test_retrieve_study(dwc: DICOMwebClient, corpus: Any) -> None:
    study_uid = corpus.uids("ct1")[0]
    got = dwc.retrieve_study(study_uid)
    originals = _originals(corpus, ("report", *CT_ROLES))
    assert {str(ds.SOPInstanceUID) for ds in got} == set(originals) == _in_study(corpus,
                                                                                  study_uid)
    for ds in got:
        assert_same_instance(ds, originals[str(ds.SOPInstanceUID)])


def test_iter_study(dwc: DICOMwebClient, corpus: Any) -> None:
    study_uid = corpus.uids("ct1")[0]
    originals = _originals(corpus, ("report", *CT_ROLES))
    seen = []
    for ds in dwc.iter_study(study_uid):
        assert_same_instance(ds, originals[str(ds.SOPInstanceUID)])
        seen.append(str(ds.SOPInstanceUID))
    assert sorted(seen) == sorted(originals)


def test_retrieve_series(dwc: DICOMwebClient, corpus: Any) -> None:
    study_uid, series_uid, _ = corpus.uids("dose_rle")
    [got] = dwc.retrieve_series(study_uid, series_uid, media_types=(("application/dicom", "*"),))
    assert_same_instance(got, corpus.dataset("dose_rle"))


def test_iter_series(dwc: DICOMwebClient, corpus: Any) -> None:
    study_uid, series_uid, _ = corpus.uids("ct1")
    originals = _originals(corpus, CT_ROLES)
    got = list(dwc.iter_series(study_uid, series_uid))
    assert sorted(str(ds.SOPInstanceUID) for ds in got) == sorted(originals)
    for ds in got:
        assert_same_instance(ds, originals[str(ds.SOPInstanceUID)])


@pytest.mark.parametrize("role", ["j2k", "dose", "report"])
def test_retrieve_instance(dwc: DICOMwebClient, corpus: Any, role: str) -> None:
    got = dwc.retrieve_instance(*corpus.uids(role))  # dicomweb-client asks for transfer-syntax=*
    assert_same_instance(got, corpus.dataset(role))


def test_retrieve_study_metadata(dwc: DICOMwebClient, corpus: Any) -> None:
    study_uid = corpus.uids("ct1")[0]
    metadata = dwc.retrieve_study_metadata(study_uid)
    assert {_uid(i, "00080018") for i in metadata} == _in_study(corpus, study_uid)


def test_retrieve_series_metadata(dwc: DICOMwebClient, corpus: Any) -> None:
    study_uid, series_uid, _ = corpus.uids("ct1")
    metadata = dwc.retrieve_series_metadata(study_uid, series_uid)
    assert {_uid(i, "00080018") for i in metadata} == {corpus.uids(r)[2] for r in CT_ROLES}


def test_retrieve_instance_metadata(dwc: DICOMwebClient, corpus: Any,
                                    service: GunicornServer) -> None:
    study_uid, series_uid, sop_uid = corpus.uids("ct1")
    metadata = dwc.retrieve_instance_metadata(study_uid, series_uid, sop_uid)
    ds = pydicom.Dataset.from_json(metadata, bulk_data_uri_handler=lambda *_: b"")
    original = corpus.dataset("ct1")
    assert ds.SOPInstanceUID == sop_uid and ds.Rows == original.Rows
    # The BulkDataURI is this service's, with the port the client did not send in Host.
    assert metadata["7FE00010"]["BulkDataURI"].startswith(f"{service.url}/dicomweb/studies/")


def test_retrieve_instance_frames(dwc: DICOMwebClient, corpus: Any) -> None:
    ds = corpus.dataset("dose_rle")
    frames = dwc.retrieve_instance_frames(*corpus.uids("dose_rle"), frame_numbers=[3, 1])
    pixels = ds.pixel_array.astype(ds.pixel_array.dtype.newbyteorder("<"))
    assert frames == [pixels[2].tobytes(), pixels[0].tobytes()]


def test_iter_instance_frames(dwc: DICOMwebClient, corpus: Any) -> None:
    ds = corpus.dataset("dose")
    frames = list(dwc.iter_instance_frames(*corpus.uids("dose"), frame_numbers=[2]))
    pixels = ds.pixel_array.astype(ds.pixel_array.dtype.newbyteorder("<"))
    assert frames == [pixels[1].tobytes()]


def _pixel_uri(dwc: DICOMwebClient, corpus: Any, role: str) -> str:
    metadata = dwc.retrieve_instance_metadata(*corpus.uids(role))
    return metadata["7FE00010"]["BulkDataURI"]


def test_retrieve_bulkdata(dwc: DICOMwebClient, corpus: Any) -> None:
    assert dwc.retrieve_bulkdata(_pixel_uri(dwc, corpus, "ct2")) == [
        corpus.dataset("ct2").PixelData]


def test_iter_bulkdata(dwc: DICOMwebClient, corpus: Any) -> None:
    assert list(dwc.iter_bulkdata(_pixel_uri(dwc, corpus, "ct3"))) == [
        corpus.dataset("ct3").PixelData]



def _assert_png_of(body: bytes, ds: pydicom.Dataset) -> None:
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG"
    assert np.abs(np.asarray(image).astype(float) - windowed(ds)).max() <= 1.0


def test_retrieve_instance_rendered(dwc: DICOMwebClient, corpus: Any) -> None:
    body = dwc.retrieve_instance_rendered(*corpus.uids("ct1"), media_types=("image/png",))
    _assert_png_of(body, corpus.dataset("ct1"))
    jpeg = dwc.retrieve_instance_rendered(*corpus.uids("ct1"))
    assert Image.open(io.BytesIO(jpeg)).format == "JPEG"


def test_retrieve_instance_frames_rendered(dwc: DICOMwebClient, corpus: Any) -> None:
    body = dwc.retrieve_instance_frames_rendered(*corpus.uids("ct4"), frame_numbers=[1],
                                                 media_types=("image/png",))
    _assert_png_of(body, corpus.dataset("ct4"))


def test_retrieve_series_rendered(dwc: DICOMwebClient, corpus: Any) -> None:
    study_uid, series_uid, _ = corpus.uids("ct1")
    body = dwc.retrieve_series_rendered(study_uid, series_uid, media_types=("image/png",))
    middle = sorted(CT_ROLES, key=lambda role: int(corpus.dataset(role).InstanceNumber))[1]
    _assert_png_of(body, corpus.dataset(middle))
    default = dwc.retrieve_series_rendered(study_uid, series_uid)
    assert Image.open(io.BytesIO(default)).format == "JPEG"


def test_forwarded_headers_are_ignored_by_default(service: GunicornServer,
                                                  corpus: Any) -> None:
    """TRUST_FORWARDED_HEADERS is off: a client cannot make the service write URLs that
    point elsewhere (gunicorn's own scheme headers included)."""
    study_uid = corpus.uids("ct1")[0]
    answer = requests.get(f"{service.url}/dicomweb/studies", timeout=30, params={
        "StudyInstanceUID": study_uid}, headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": "elsewhere.example",
        "X-Forwarded-Port": "8443", "X-Forwarded-Ssl": "on"})
    [study] = answer.json()
    assert study["00081190"]["Value"] == [f"{service.url}/dicomweb/studies/{study_uid}"]


def test_log_has_no_errors(service: GunicornServer) -> None:
    """After the whole module: nothing failed inside the service (JSON log lines)."""
    levels = {orjson.loads(line).get("level") for line in service.stderr.splitlines()
              if line.startswith("{")}
    assert "INFO" in levels  # the log is read as written
    assert not levels & {"ERROR", "CRITICAL"} and "Traceback" not in service.stderr
