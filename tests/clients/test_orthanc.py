"""Orthanc (Debian's server and its DICOMweb plugin) using the service as a DICOMweb peer.

Orthanc searches the service (QIDO-RS through /dicom-web/servers/…/qido) and pulls the
example study (WADO-RS through /dicom-web/servers/…/retrieve) into its own storage; what
it then stores is read back with pydicom and compared with the emulator's .dcm files.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from tests.clients.orthanc import MISSING, SERVER_NAME, Orthanc, orthanc_binary, running_orthanc
from tests.clients.served import ExampleStudy, Service

pytestmark = pytest.mark.slow

QIDO = f"/dicom-web/servers/{SERVER_NAME}/qido"
RETRIEVE = f"/dicom-web/servers/{SERVER_NAME}/retrieve"


@pytest.fixture
def service(start_service: Any) -> Service:
    return start_service()


@pytest.fixture
def orthanc(service: Service, tmp_path: Path) -> Iterator[Orthanc]:
    binary = orthanc_binary()
    if binary is None:
        pytest.skip(MISSING)
    with running_orthanc(binary, tmp_path, f"{service.url}/dicomweb") as running:
        yield running


def value(result: dict[str, Any], tag: str) -> Any:
    """A tag's value in Orthanc's rendering of a QIDO answer ({"Name", "Value", "vr"})."""
    return result[tag]["Value"]


def differences(received: pydicom.Dataset, original: pydicom.Dataset) -> list[str]:
    """Keywords (or tags) of the attributes missing, added or changed in `received`."""
    tags = set(received.keys()) | set(original.keys())
    return sorted(received[tag].keyword or str(tag) if tag in received
                  else original[tag].keyword or str(tag)
                  for tag in tags if received.get(tag) != original.get(tag))


def test_orthanc_finds_the_example_study_with_qido(orthanc: Orthanc, service: Service,
                                                    example: ExampleStudy) -> None:
    ct = pydicom.dcmread(service.files[example.ct[0]], stop_before_pixels=True)
    answer = orthanc.post(QIDO, {"Uri": "/studies",
                                 "Arguments": {"PatientID": str(ct.PatientID),
                                               "includefield": "StudyDescription"}})
    assert answer.status_code == 200, answer.text
    studies = answer.json()
    assert [value(study, "0020000D") for study in studies] == [example.study]
    assert value(studies[0], "00080050") == str(ct.AccessionNumber)
    assert value(studies[0], "00081030") == str(ct.StudyDescription)

    answer = orthanc.post(QIDO, {"Uri": f"/studies/{example.study}/series"})
    assert answer.status_code == 200, answer.text
    series = {value(item, "0020000E"): item for item in answer.json()}
    assert set(series) == {example.ct_series, example.sr_series}
    assert value(series[example.ct_series], "00080060") == "CT"
    # Orthanc 1.10 drops IS values sent as JSON numbers (CP 1861 allows numbers or
    # strings) from this rendering, so counts are not compared here; the RetrieveURL is
    # what Orthanc would follow to pull the series.
    assert value(series[example.ct_series], "00081190") == \
        f"{service.url}/dicomweb/studies/{example.study}/series/{example.ct_series}"
    assert value(series[example.sr_series], "00080060") == "SR"

    asked = [exchange for exchange in service.exchanges if exchange.path.startswith("/dicomweb")]
    assert [exchange.status for exchange in asked] == [200, 200], [str(e) for e in asked]


def test_orthanc_retrieves_the_example_study_unchanged(orthanc: Orthanc, service: Service,
                                                       example: ExampleStudy) -> None:
    started = time.perf_counter()
    answer = orthanc.post(RETRIEVE, {"Resources": [{"Study": example.study}]})
    seconds = time.perf_counter() - started
    asked = [str(exchange) for exchange in service.exchanges]
    assert answer.status_code == 200, f"{answer.text}\nservice saw: {asked}\n" \
                                      f"{orthanc.log()[-4000:]}"
    print(f"Orthanc retrieved the example study in {seconds:.2f} s; it asked: {asked}")

    stored = orthanc.get("/instances").json()
    assert len(stored) == len(example.ct) + len(example.sr)
    originals = service.originals()
    received = {}
    for instance_id in stored:
        content = orthanc.get(f"/instances/{instance_id}/file")
        assert content.status_code == 200
        dataset = pydicom.dcmread(io.BytesIO(content.content))
        received[str(dataset.SOPInstanceUID)] = dataset
    assert set(received) == set(originals)
    for uid, dataset in received.items():
        original = originals[uid]
        assert dataset.StudyInstanceUID == example.study
        # Every attribute of the original, with the same value (the file meta aside).
        assert differences(dataset, original) == [], uid
        if "PixelData" in original:
            np.testing.assert_array_equal(dataset.pixel_array, original.pixel_array)


@pytest.mark.parametrize("level", ["series", "instance"])
def test_orthanc_retrieves_a_series_and_an_instance(orthanc: Orthanc, service: Service,
                                                    example: ExampleStudy, level: str) -> None:
    if level == "series":
        resource, expected = {"Study": example.study, "Series": example.sr_series}, example.sr
        path = f"/dicomweb/studies/{example.study}/series/{example.sr_series}"
    else:
        resource = {"Study": example.study, "Series": example.ct_series,
                    "Instance": example.ct[3]}
        expected = example.ct[3:4]
        path = f"/dicomweb/studies/{example.study}/series/{example.ct_series}/instances/" \
               f"{example.ct[3]}"
    answer = orthanc.post(RETRIEVE, {"Resources": [resource]})
    assert answer.status_code == 200, f"{answer.text}\n{[str(e) for e in service.exchanges]}"
    asked = [exchange for exchange in service.exchanges if exchange.path.startswith("/dicomweb")]
    assert [exchange.path for exchange in asked] == [path], [str(e) for e in asked]

    originals = service.originals()
    received = {}
    for instance_id in orthanc.get("/instances").json():
        content = orthanc.get(f"/instances/{instance_id}/file").content
        dataset = pydicom.dcmread(io.BytesIO(content))
        received[str(dataset.SOPInstanceUID)] = dataset
    assert set(received) == set(expected)
    for uid, dataset in received.items():
        assert differences(dataset, originals[uid]) == [], uid
