"""WADO-RS retrieve, thumbnails, rendered series/studies and single-part frames against
openapi.yaml, with the Healthcare API emulator serving the study's pydicom-written files."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pydicom
import pytest
from flask import Flask
from openapi_core import OpenAPI
from PIL import Image

from service.bulkdata.multipart_reader import parse_multipart
from service.emulator.server import Emulator
from service.settings import Settings
from tests.contract.conftest import Contract
from tests.support.emulated import close_app, emulated_app, emulator_credentials
from tests.support.part10 import assert_same_instance
from tests.support.routes import dicomweb_path

AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*'


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, emulator: Emulator,
        study_dump: list[dict]) -> Iterator[Flask]:
    database = tmp_path_factory.mktemp("retrieve") / "store.sqlite3"
    settings = Settings.load(environ={}, database_url=f"sqlite:///{database}",
                             healthcare_api_root=emulator.api_root)
    application = emulated_app(settings, credentials=emulator_credentials(emulator),
                               dumps=[study_dump])
    yield application
    close_app(application)


@dataclass(frozen=True)
class Study:
    contract: Contract
    datasets: list[pydicom.Dataset]

    @property
    def ct(self) -> pydicom.Dataset:
        return next(ds for ds in self.datasets if ds.Modality == "CT")

    @property
    def sr(self) -> pydicom.Dataset:
        return next(ds for ds in self.datasets if ds.Modality == "SR")

    def path(self, ds: pydicom.Dataset, level: str = "instance") -> str:
        return "/dicomweb" + dicomweb_path(ds.StudyInstanceUID, ds.SeriesInstanceUID,
                                           ds.SOPInstanceUID, level)


@pytest.fixture
def study(openapi: OpenAPI, app: Flask, study_datasets: list[pydicom.Dataset]) -> Study:
    return Study(Contract(openapi, app.test_client()), study_datasets)


@pytest.mark.parametrize("level", ["study", "series", "instance"])
def test_retrieve_at_every_level(study: Study, level: str) -> None:
    response = study.contract.call("GET", study.path(study.ct, level),
                                   headers={"Accept": AS_STORED})
    assert response.status_code == 200
    parts = parse_multipart(response.get_data(), response.headers["Content-Type"])
    expected = {"study": len(study.datasets), "series": len(study.datasets) - 1,
                "instance": 1}[level]
    assert len(parts) == expected
    by_uid = {str(ds.SOPInstanceUID): ds for ds in study.datasets}
    for part in parts:
        got = pydicom.dcmread(io.BytesIO(bytes(part.body)))
        assert_same_instance(got, by_uid[str(got.SOPInstanceUID)])


def test_retrieve_default_is_explicit_little_endian(study: Study) -> None:
    response = study.contract.call("GET", study.path(study.sr))
    assert response.status_code == 200
    [part] = parse_multipart(response.get_data(), response.headers["Content-Type"])
    assert part.content_type == "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"


def test_retrieve_refusals(study: Study) -> None:
    refused = study.contract.call("GET", study.path(study.ct, "series"), headers={
        "Accept": 'multipart/related; type="application/dicom"; '
                  "transfer-syntax=1.2.840.10008.1.2.4.90"})
    assert refused.status_code == 406 and refused.get_json()["available"]
    assert study.contract.call("GET", "/dicomweb/studies/1.2.3").status_code == 404
    bad = study.contract.call("GET", "/dicomweb/studies/x.y", request_valid=False)
    assert bad.status_code == 400


@pytest.mark.parametrize("level", ["study", "series", "instance", "frame"])
def test_thumbnails(study: Study, level: str) -> None:
    path = study.path(study.ct, "instance" if level == "frame" else level)
    path += "/frames/1/thumbnail" if level == "frame" else "/thumbnail"
    response = study.contract.call("GET", path)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(response.get_data())).size) <= 128
    png = study.contract.call("GET", path, query_string={"accept": "image/png",
                                                         "viewport": "16,16"})
    assert png.mimetype == "image/png"
    assert Image.open(io.BytesIO(png.get_data())).size == (16, 16)
    refused = study.contract.call("GET", path, headers={"Accept": "image/gif"})
    assert refused.status_code == 406


def test_thumbnail_of_a_report_says_there_is_no_image(study: Study) -> None:
    response = study.contract.call("GET", study.path(study.sr, "series") + "/thumbnail")
    assert response.status_code == 404
    assert response.get_json()["reason"] == "no-pixel-data"


@pytest.mark.parametrize("level", ["study", "series"])
def test_rendered_series_and_study(study: Study, level: str) -> None:
    path = study.path(study.ct, level) + "/rendered"
    single = study.contract.call("GET", path, headers={"Accept": "image/png"})
    assert single.status_code == 200 and single.mimetype == "image/png"
    many = study.contract.call("GET", path,
                               headers={"Accept": 'multipart/related; type="image/jpeg"'})
    assert many.status_code == 200
    parts = parse_multipart(many.get_data(), many.headers["Content-Type"])
    assert len(parts) == len(study.datasets) - 1  # every CT slice, not the report
    assert {part.content_type for part in parts} == {"image/jpeg"}


def test_one_frame_single_part(study: Study) -> None:
    response = study.contract.call("GET", study.path(study.ct) + "/frames/1",
                                   headers={"Accept": "application/octet-stream"})
    assert response.status_code == 200 and response.mimetype == "application/octet-stream"
    ds = study.ct
    assert response.get_data() == ds.pixel_array.astype(
        ds.pixel_array.dtype.newbyteorder("<")).tobytes()
