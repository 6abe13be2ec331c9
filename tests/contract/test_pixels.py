"""GET …/pixels against openapi.yaml, with pixel data served by the Healthcare API emulator.

The emulator is the project's real stand-in for Google (token endpoint + DICOMweb bulk
data over the pydicom-written .dcm files of the same study), on a loopback port. Values
are compared with pydicom's reading of those datasets.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import orjson
import pydicom
import pytest
from flask import Flask
from google.oauth2 import service_account
from openapi_core import Config, OpenAPI
from PIL import Image

from service import create_app
from service.bulkdata.client import BulkDataClient
from service.bulkdata.credentials import HEALTHCARE_SCOPE
from service.emulator.server import Emulator
from service.settings import Settings
from tests.contract.conftest import DESERIALIZERS, Contract

# Copies of a CT slice stored under new SOPInstanceUIDs, to reach refusals the example
# study never triggers.
FOREIGN_HOST = "2.25.1001"  # PixelData BulkDataURI on a host outside the allowlist
HALF_SLOPE = "2.25.1002"  # RescaleSlope 0.5: values int16 cannot hold exactly


def _variant(instance: dict, sop_uid: str) -> dict:
    variant = copy.deepcopy(instance)
    variant["00080018"]["Value"] = [sop_uid]
    return variant


def _dump_with_variants(study_dump: list[dict], ct_uid: str) -> list[dict]:
    ct = next(item for item in study_dump if item["00080018"]["Value"] == [ct_uid])
    foreign = _variant(ct, FOREIGN_HOST)
    foreign["7FE00010"]["BulkDataURI"] = foreign["7FE00010"]["BulkDataURI"].replace(
        "healthcare.googleapis.com", "storage.example.com")
    half = _variant(ct, HALF_SLOPE)
    half["00281053"]["Value"] = [0.5]
    return [*study_dump, foreign, half]


@dataclass(frozen=True)
class Pixels:
    contract: Contract
    emulator: Emulator
    ct: pydicom.Dataset
    sr: pydicom.Dataset

    def path(self, sop_uid: str | None = None, dataset: pydicom.Dataset | None = None) -> str:
        ds = dataset or self.ct
        return (f"/v1/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/"
                f"{sop_uid or ds.SOPInstanceUID}/pixels")

    def hounsfield(self) -> np.ndarray:
        """pydicom's reading of the slice, rescaled: the oracle."""
        return (self.ct.pixel_array.astype(np.float64) * float(self.ct.RescaleSlope)
                + float(self.ct.RescaleIntercept))


@pytest.fixture(scope="module")
def pixel_app(tmp_path_factory: pytest.TempPathFactory, emulator: Emulator,
              study_dump: list[dict], study_datasets: list[pydicom.Dataset]) -> Iterator[Flask]:
    """One app for the module: reads only. No payload cache, so that every request
    reaches the emulator and its planned faults; no retries, so that faults fire once."""
    database = tmp_path_factory.mktemp("pixels") / "store.sqlite3"
    settings = Settings.load(environ={}, database_url=f"sqlite:///{database}",
                             healthcare_api_root=emulator.api_root, upstream_max_retries=0,
                             pixel_cache_bytes=0)
    credentials = service_account.Credentials.from_service_account_file(
        str(emulator.key_file), scopes=[HEALTHCARE_SCOPE])
    application = create_app(settings, bulkdata=lambda cache: BulkDataClient(
        settings, cache=cache, credentials=credentials))
    ct = next(ds for ds in study_datasets if ds.Modality == "CT")
    body = orjson.dumps(_dump_with_variants(study_dump, ct.SOPInstanceUID))
    answer = application.test_client().post("/v1/dumps", data=body,
                                            content_type="application/json")
    assert answer.status_code == 200, answer.get_data()
    yield application
    application.extensions["bulkdata"].close()
    application.extensions["engine"].dispose()


@pytest.fixture
def pixels(openapi: OpenAPI, pixel_app: Flask, emulator: Emulator,
           study_datasets: list[pydicom.Dataset]) -> Iterator[Pixels]:
    ct = next(ds for ds in study_datasets if ds.Modality == "CT")
    sr = next(ds for ds in study_datasets if ds.Modality == "SR")
    yield Pixels(Contract(openapi, pixel_app.test_client()), emulator, ct, sr)
    emulator.clear_faults()


def _floats(header: str) -> list[float]:
    return [float(item) for item in header.split(",")]


def test_npy_is_the_default(pixels: Pixels) -> None:
    response = pixels.contract.call("GET", pixels.path())
    assert response.mimetype == "application/x-npy"
    values = np.load(io.BytesIO(response.get_data()))
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, pixels.hounsfield())
    headers = response.headers
    assert _floats(headers["X-Rescale-Slope"]) == [float(pixels.ct.RescaleSlope)]
    assert _floats(headers["X-Rescale-Intercept"]) == [float(pixels.ct.RescaleIntercept)]
    assert _floats(headers["X-Pixel-Spacing"]) == [float(v) for v in pixels.ct.PixelSpacing]
    assert _floats(headers["X-Image-Position"]) == \
        [float(v) for v in pixels.ct.ImagePositionPatient]
    assert _floats(headers["X-Image-Orientation"]) == \
        [float(v) for v in pixels.ct.ImageOrientationPatient]


def test_raw_with_shape_and_dtype(pixels: Pixels) -> None:
    response = pixels.contract.call("GET", pixels.path(),
                                    query_string={"format": "raw", "dtype": "int16"})
    assert response.mimetype == "application/octet-stream"
    assert response.headers["X-Dtype"] == "<i2"
    shape = tuple(int(n) for n in response.headers["X-Shape"].split(","))
    values = np.frombuffer(response.get_data(), dtype="<i2").reshape(shape)
    np.testing.assert_array_equal(values, pixels.hounsfield())


def test_json_lists(pixels: Pixels) -> None:
    response = pixels.contract.call("GET", pixels.path(), query_string={"format": "json"})
    np.testing.assert_array_equal(np.array(response.get_json()), pixels.hounsfield())


@pytest.mark.parametrize("query", [{"format": "png", "window": "lung"},
                                   {"format": "png", "window": "40,400"}])
def test_png(pixels: Pixels, query: dict[str, str]) -> None:
    response = pixels.contract.call("GET", pixels.path(), query_string=query)
    image = Image.open(io.BytesIO(response.get_data()))
    assert (image.mode, image.size) == ("L", (pixels.ct.Columns, pixels.ct.Rows))
    assert "X-Window" in response.headers


def test_accept_header_chooses_png(pixels: Pixels) -> None:
    response = pixels.contract.call("GET", pixels.path(), headers={"Accept": "image/png"})
    assert response.mimetype == "image/png"


def test_all_frames_keep_the_frame_axis(pixels: Pixels) -> None:
    response = pixels.contract.call("GET", pixels.path(), query_string={"frame": "all"})
    values = np.load(io.BytesIO(response.get_data()))
    assert values.shape == (1, pixels.ct.Rows, pixels.ct.Columns)
    assert response.headers["X-Frames"] == "1"


@pytest.mark.parametrize(("query", "parameter", "request_valid"), [
    ({"format": "gif"}, "format", False),
    ({"frame": "0"}, "frame", False),
    ({"frame": "first"}, "frame", False),
    ({"dtype": "float64"}, "dtype", False),
    ({"format": "png", "window": "soft"}, "window", False),
    ({"format": "png", "window": "40,0"}, "window", True),  # width < 1: only the service knows
    ({"colour": "red"}, "colour", True),  # extra parameters cannot be forbidden by the document
])
def test_bad_parameters_are_400(pixels: Pixels, query: dict[str, str], parameter: str,
                                request_valid: bool) -> None:
    response = pixels.contract.call("GET", pixels.path(), query_string=query,
                                    request_valid=request_valid)
    assert response.status_code == 400
    assert response.get_json()["parameter"] == parameter


def test_malformed_uid_is_400(pixels: Pixels) -> None:
    response = pixels.contract.call("GET", pixels.path("1.2.3a"), request_valid=False)
    assert response.status_code == 400
    assert response.get_json()["parameter"] == "instance"


def test_unknown_instance_is_404(pixels: Pixels) -> None:
    assert pixels.contract.call("GET", pixels.path("1.2.3")).status_code == 404


def test_report_has_no_pixels(pixels: Pixels) -> None:
    response = pixels.contract.call("GET", pixels.path(dataset=pixels.sr))
    assert response.status_code == 404
    assert response.get_json()["reason"] == "no-pixel-data"


def test_frame_out_of_range_is_404(pixels: Pixels) -> None:
    response = pixels.contract.call("GET", pixels.path(), query_string={"frame": "2"})
    assert response.status_code == 404
    assert response.get_json()["parameter"] == "frame"


def test_nothing_acceptable_is_406(pixels: Pixels) -> None:
    response = pixels.contract.call("GET", pixels.path(), headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert "application/x-npy" in response.get_json()["available"]


def test_png_of_all_frames_is_406(pixels: Pixels) -> None:
    response = pixels.contract.call("GET", pixels.path(),
                                    query_string={"format": "png", "frame": "all"})
    assert response.status_code == 406


def test_host_outside_allowlist_is_422(pixels: Pixels) -> None:
    response = pixels.contract.call("GET", pixels.path(FOREIGN_HOST))
    assert response.status_code == 422
    assert not any(FOREIGN_HOST in request.path for request in pixels.emulator.requests)


def test_int16_that_would_lose_values_is_422(pixels: Pixels) -> None:
    assert np.any(pixels.ct.pixel_array % 2), "needs odd stored values to be meaningful"
    response = pixels.contract.call("GET", pixels.path(HALF_SLOPE),
                                    query_string={"dtype": "int16"})
    assert response.status_code == 422
    assert response.get_json()["parameter"] == "dtype"


def test_upstream_refusal_is_502(pixels: Pixels) -> None:
    pixels.emulator.inject(pixels.ct.SOPInstanceUID, status=403)
    response = pixels.contract.call("GET", pixels.path())
    assert response.status_code == 502
    assert response.get_json()["upstream_status"] == 403


def test_payload_that_contradicts_the_metadata_is_502(pixels: Pixels) -> None:
    pixels.emulator.inject(pixels.ct.SOPInstanceUID, status=None, truncate=True)
    response = pixels.contract.call("GET", pixels.path())
    assert response.status_code == 502


def _other_dtype(document: dict) -> None:
    document["components"]["headers"]["XDtype"]["schema"]["enum"] = ["<f8"]


def _no_rescale_header(document: dict) -> None:
    document["components"]["headers"]["XRescaleSlope"]["schema"] = {"not": {}}


@pytest.mark.parametrize(("mutation", "query"), [
    (_other_dtype, {"format": "raw"}),
    (_no_rescale_header, {}),
], ids=["dtype-header", "rescale-header"])
def test_altered_document_rejects_real_pixels(spec_document: dict, pixels: Pixels,
                                              mutation, query: dict[str, str]) -> None:
    """The pixel checks can fail: headers and nested JSON bodies are really validated."""
    altered = copy.deepcopy(spec_document)
    mutation(altered)
    strict = OpenAPI.from_dict(altered, config=Config(
        extra_media_type_deserializers=DESERIALIZERS, spec_validator_cls=None))
    with pytest.raises(pytest.fail.Exception, match="breaks the contract"):
        Contract(strict, pixels.contract.client).call("GET", pixels.path(), query_string=query)
