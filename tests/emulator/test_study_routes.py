"""The emulator's QIDO-RS searches (Google's paging) and study/series metadata (Google's
JSON), checked against pydicom reading the files and against the shipped example dump."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
import requests
from google.auth.transport.requests import AuthorizedSession

from service.emulator.keys import ServiceAccount
from service.emulator.search import MORE_RESULTS_WARNING
from service.emulator.server import Emulator
from service.examples.factory import example_datasets, load_example_dump, write_dicom_files
from tests.support.emulated import emulator_credentials
from tests.support.google_store import write_studies


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("qido")
    write_studies(path)
    return path


@pytest.fixture
def stand_in(folder: Path, service_account_key: ServiceAccount) -> Iterator[Emulator]:
    with Emulator(folder, account=service_account_key) as running:
        yield running


@pytest.fixture
def web(stand_in: Emulator) -> Iterator[requests.Session]:
    session = AuthorizedSession(emulator_credentials(stand_in))
    yield session
    session.close()


def url(stand_in: Emulator, path: str) -> str:
    return f"{stand_in.url}/v1/{stand_in.store_path}/dicomWeb/{path}"


def headers_of_files(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(path, stop_before_pixels=True) for path in sorted(folder.glob("*.dcm"))]


def first(match: dict, tag: str) -> object:
    return match[tag]["Value"][0]


def test_study_search_answers_what_pydicom_reads(stand_in: Emulator, web: requests.Session,
                                                 folder: Path) -> None:
    answer = web.get(url(stand_in, "studies"), timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/dicom+json"
    assert "Warning" not in answer.headers
    files = headers_of_files(folder)
    expected = {}
    for ds in files:
        entry = expected.setdefault(ds.StudyInstanceUID, {"modalities": set(), "count": 0,
                                                          "date": ds.StudyDate,
                                                          "patient": ds.PatientID})
        entry["modalities"].add(ds.Modality)
        entry["count"] += 1
    matches = answer.json()
    assert [first(m, "0020000D") for m in matches] == sorted(expected)
    for match in matches:
        entry = expected[first(match, "0020000D")]
        assert first(match, "00080020") == entry["date"]
        assert first(match, "00100020") == entry["patient"]
        assert match["00080061"]["Value"] == sorted(entry["modalities"])
        assert first(match, "00201208") == entry["count"]


@pytest.mark.parametrize(("query", "keep"), [
    ({"StudyDate": "20240201-20240415"}, lambda ds: "20240201" <= ds.StudyDate <= "20240415"),
    ({"StudyDate": "20240301"}, lambda ds: ds.StudyDate == "20240301"),
    ({"PatientID": "PAT-A"}, lambda ds: ds.PatientID == "PAT-A"),
    ({"PatientID": "PAT-?"}, lambda ds: True),
    ({"ModalitiesInStudy": "MR"}, lambda ds: ds.Modality == "MR"),
    ({"AccessionNumber": "ACC-702"}, lambda ds: ds.AccessionNumber == "ACC-702"),
])
def test_study_search_filters(stand_in: Emulator, web: requests.Session, folder: Path,
                              query: dict, keep) -> None:  # type: ignore[no-untyped-def]
    wanted = sorted({ds.StudyInstanceUID for ds in headers_of_files(folder) if keep(ds)})
    answer = web.get(url(stand_in, "studies"), params=query, timeout=5)
    assert [first(m, "0020000D") for m in answer.json()] == wanted


def test_paging_with_googles_warning(stand_in: Emulator, web: requests.Session) -> None:
    everything = [first(m, "0020000D") for m in web.get(url(stand_in, "studies"),
                                                        timeout=5).json()]
    pages, offset = [], 0
    while True:
        answer = web.get(url(stand_in, "studies"), params={"limit": 2, "offset": offset},
                         timeout=5)
        if answer.status_code == 204:
            break
        pages.append([first(m, "0020000D") for m in answer.json()])
        more = answer.headers.get("Warning") == MORE_RESULTS_WARNING
        assert more == (offset + 2 < len(everything))
        offset += len(pages[-1])
    assert [uid for page in pages for uid in page] == everything
    assert [len(page) for page in pages] == [2, 2, 1]
    # A cap lower than the asked limit cuts the page and says so.
    stand_in.cap_qido_results(3)
    capped = web.get(url(stand_in, "studies"), params={"limit": 100}, timeout=5)
    assert len(capped.json()) == 3 and capped.headers["Warning"] == MORE_RESULTS_WARNING
    empty = web.get(url(stand_in, "studies"), params={"StudyDate": "19000101"}, timeout=5)
    assert empty.status_code == 204 and empty.content == b""


@pytest.mark.parametrize("query", [{"limit": "-1"}, {"offset": "x"},
                                   {"PatientName": "DOE"}, {"StudyDate": "2024"}])
def test_bad_searches_are_400(stand_in: Emulator, web: requests.Session, query: dict) -> None:
    answer = web.get(url(stand_in, "studies"), params=query, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_other_stores_and_anonymous_callers_are_refused(stand_in: Emulator,
                                                        web: requests.Session) -> None:
    other = f"{stand_in.url}/v1/projects/x/locations/l/datasets/d/dicomStores/s/dicomWeb/studies"
    assert web.get(other, timeout=5).status_code == 403
    assert requests.get(url(stand_in, "studies"), timeout=5).status_code == 401


def test_series_and_instance_searches(stand_in: Emulator, web: requests.Session,
                                      folder: Path) -> None:
    files = headers_of_files(folder)
    study = files[0].StudyInstanceUID
    of_study = [ds for ds in files if ds.StudyInstanceUID == study]
    series = web.get(url(stand_in, f"studies/{study}/series"), timeout=5).json()
    assert sorted(first(m, "0020000E") for m in series) == \
        sorted({ds.SeriesInstanceUID for ds in of_study})
    for match in series:
        uid = first(match, "0020000E")
        assert first(match, "00201209") == sum(ds.SeriesInstanceUID == uid for ds in of_study)
        instances = web.get(url(stand_in, f"studies/{study}/series/{uid}/instances"),
                            timeout=5).json()
        assert sorted(first(m, "00080018") for m in instances) == sorted(
            ds.SOPInstanceUID for ds in of_study if ds.SeriesInstanceUID == uid)
    every = web.get(url(stand_in, f"studies/{study}/instances"), timeout=5).json()
    assert len(every) == len(of_study)


def test_study_metadata_is_every_instance_of_the_study(stand_in: Emulator,
                                                       web: requests.Session,
                                                       folder: Path) -> None:
    files = headers_of_files(folder)
    study = files[-1].StudyInstanceUID
    answer = web.get(url(stand_in, f"studies/{study}/metadata"), timeout=5)
    assert answer.headers["Content-Type"] == "application/dicom+json"
    dump = answer.json()
    assert sorted(first(i, "00080018") for i in dump) == sorted(
        ds.SOPInstanceUID for ds in files if ds.StudyInstanceUID == study)
    for instance in dump:
        parsed = pydicom.Dataset.from_json({k: v for k, v in instance.items()
                                            if not k.startswith("0002")},
                                           bulk_data_uri_handler=lambda *_: b"")
        [on_disk] = [ds for ds in files if ds.SOPInstanceUID == parsed.SOPInstanceUID]
        assert parsed.PatientID == on_disk.PatientID
        assert parsed.StudyDate == on_disk.StudyDate
    series = first(dump[0], "0020000E")
    of_series = web.get(url(stand_in, f"studies/{study}/series/{series}/metadata"),
                        timeout=5).json()
    assert {first(i, "0020000E") for i in of_series} == {series}
    assert web.get(url(stand_in, "studies/1.2.3/metadata"), timeout=5).status_code == 404


def test_study_metadata_equals_the_shipped_google_export(
        tmp_path: Path, service_account_key: ServiceAccount) -> None:
    """The shipped dump is Google's export of the example study: served from .dcm files,
    the stand-in answers the very same JSON."""
    write_dicom_files(example_datasets(), tmp_path)
    shipped = load_example_dump()
    with Emulator(tmp_path, account=service_account_key) as stand_in:
        session = AuthorizedSession(emulator_credentials(stand_in))
        study = first(shipped[0], "0020000D")
        served = session.get(url(stand_in, f"studies/{study}/metadata"), timeout=30).json()
        one = shipped[3]
        instance = session.get(url(stand_in, f"studies/{study}/series/{first(one, '0020000E')}"
                                             f"/instances/{first(one, '00080018')}/metadata"),
                               timeout=30).json()
        session.close()
    by_sop = {first(i, "00080018"): i for i in shipped}
    assert len(served) == len(shipped)
    for item in served:
        assert item == by_sop[first(item, "00080018")]
    assert instance == [one]
    binary = [element for item in served for element in item.values()
              if element["vr"] in ("OB", "OW", "UN")]
    assert binary and all("BulkDataURI" in element and "InlineBinary" not in element
                          for element in binary)
