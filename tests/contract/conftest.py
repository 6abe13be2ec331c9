"""Contract fixtures: the OpenAPI document, a validating client, an ingested study.

Every exchange made through `Contract.call` is checked against openapi.yaml on both
sides: the response must be one the document describes (status, media type, headers,
body schema), and the request must be valid per the document exactly when the test
says it should be, so that the document's parameter rules and the service's agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest
import yaml
from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from werkzeug.test import EnvironBuilder, TestResponse

from service import create_app
from service.emulator.server import Emulator
from service.examples.factory import write_dicom_files
from service.settings import Settings
from tests.support.dumps import study_fixtures

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"


def _json(value: bytes, **_parameters: str) -> Any:
    return json.loads(value)


def load_yaml(value: bytes | str, **_parameters: str) -> Any:
    """Safe YAML loading, with libyaml when PyYAML has it (the document is large)."""
    return yaml.load(value, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


# openapi-core only knows plain application/json; the +json types are JSON too.
DESERIALIZERS = {
    "application/problem+json": _json,
    "application/dicom+json": _json,
    "application/yaml": load_yaml,
}


@pytest.fixture(scope="session")
def spec_document() -> dict[str, Any]:
    return load_yaml(SPEC_PATH.read_bytes())


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    # The document's own validity is test_spec.py's concern; checking it here again
    # would cost a second or two for nothing.
    return OpenAPI.from_file_path(str(SPEC_PATH), config=Config(
        extra_media_type_deserializers=DESERIALIZERS, spec_validator_cls=None))


def explain(error: BaseException) -> str:
    """An openapi-core error with every schema error it carries, for assertion messages."""
    lines = [f"{type(error).__name__}: {error}"]
    cause = error.__cause__
    while cause is not None:
        lines.append(f"  caused by {type(cause).__name__}: {cause}")
        for schema_error in getattr(cause, "schema_errors", None) or ():
            path = "/".join(map(str, getattr(schema_error, "absolute_path", ())))
            lines.append(f"    at /{path}: {getattr(schema_error, 'message', schema_error)}")
        cause = cause.__cause__
    return "\n".join(lines)


@dataclass
class Contract:
    openapi: OpenAPI
    client: FlaskClient

    def call(self, method: str, path: str, *, request_valid: bool | None = True,
             **kwargs: Any) -> TestResponse:
        """Send one request and validate the exchange; kwargs go to EnvironBuilder.

        request_valid: whether the document accepts the request; None when the request
        validator cannot judge it (a gzip body: openapi-core does not decode
        Content-Encoding).
        """
        described = EnvironBuilder(path=path, method=method, **kwargs).get_request()
        described.get_data()  # keep the body: the request sent below is a separate copy
        response = self.client.open(path=path, method=method, **kwargs)
        openapi_request = WerkzeugOpenAPIRequest(described)
        try:
            self.openapi.validate_response(openapi_request, WerkzeugOpenAPIResponse(response))
        except OpenAPIError as error:
            pytest.fail(f"{method} {path} → {response.status_code} "
                        f"{response.mimetype} breaks the contract:\n{explain(error)}\n"
                        f"body: {response.get_data()[:2000]!r}")
        if request_valid is None:
            return response
        try:
            self.openapi.validate_request(openapi_request)
        except OpenAPIError as error:
            assert not request_valid, (f"{method} {path} should be a valid request:\n"
                                       f"{explain(error)}")
        else:
            assert request_valid, (f"{method} {path} answered {response.status_code} but the "
                                   "document accepts the request")
        return response


@pytest.fixture
def contract(openapi: OpenAPI, client: FlaskClient) -> Contract:
    return Contract(openapi, client)


# One SR report and three 64×64 CT slices (pydicom datasets: the oracle).
study_datasets, study_dump, study_body = study_fixtures(n_slices=3)


@dataclass(frozen=True)
class Stored:
    """UIDs of the ingested study: its SR instance and one CT slice."""

    study: str
    ct_series: str
    ct_instance: pydicom.Dataset
    sr_series: str
    sr_instance: pydicom.Dataset


@pytest.fixture(scope="session")
def uids(study_datasets: list[pydicom.Dataset]) -> Stored:
    sr = next(ds for ds in study_datasets if ds.Modality == "SR")
    ct = next(ds for ds in study_datasets if ds.Modality == "CT")
    return Stored(ct.StudyInstanceUID, ct.SeriesInstanceUID, ct, sr.SeriesInstanceUID, sr)


def ingest(client: FlaskClient, body: bytes) -> None:
    # Plain client: the ingest exchange itself is validated in test_dumps.py, and
    # validating this large body again for every fixture would only cost time.
    response = client.post("/v1/dumps", data=body, content_type="application/dicom+json")
    assert response.status_code == 200, response.get_data()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory,
             study_datasets: list[pydicom.Dataset]) -> Iterator[Emulator]:
    """The Healthcare API emulator serving the study's .dcm files (pixels, retrieve);
    tests that plan faults clear them when they end."""
    folder = tmp_path_factory.mktemp("emulated-store")
    write_dicom_files(study_datasets, folder)
    with Emulator(folder) as running:
        yield running


@pytest.fixture
def stored(client: FlaskClient, uids: Stored, study_body: bytes) -> Stored:
    """The study ingested into this test's own app (for tests that change the store)."""
    ingest(client, study_body)
    return uids


@pytest.fixture(scope="module")
def reader(openapi: OpenAPI, tmp_path_factory: pytest.TempPathFactory,
           study_body: bytes) -> Iterator[Contract]:
    """A Contract on one app per module with the study ingested, for read-only tests."""
    folder = tmp_path_factory.mktemp("reader")
    application = create_app(Settings.load(
        environ={}, database_url=f"sqlite:///{folder / 'store.sqlite3'}"))
    client = application.test_client()
    ingest(client, study_body)
    yield Contract(openapi, client)
    application.extensions["engine"].dispose()
