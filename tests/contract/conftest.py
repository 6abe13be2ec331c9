"""Contract fixtures: the OpenAPI document, a validating client, an ingested study.

Every exchange made through `Contract.call` is checked against openapi.yaml on both
sides: the response must be one the document describes (status, media type, headers,
body schema), and the request must be valid per the document exactly when the test
says it should be, so that the document's parameter rules and the service's agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pydicom
import pytest
import yaml
from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from werkzeug.test import EnvironBuilder, TestResponse

from service.examples.factory import StudySpec, make_dump, make_study

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"


def _json(value: bytes, **_parameters: str) -> Any:
    return json.loads(value)


def _yaml(value: bytes, **_parameters: str) -> Any:
    return yaml.safe_load(value)


# openapi-core only knows plain application/json; the +json types are JSON too.
DESERIALIZERS = {
    "application/problem+json": _json,
    "application/dicom+json": _json,
    "application/yaml": _yaml,
}


@pytest.fixture(scope="session")
def spec_document() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_bytes())


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC_PATH),
                                  config=Config(extra_media_type_deserializers=DESERIALIZERS))


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

    def call(self, method: str, path: str, *, request_valid: bool = True,
             **kwargs: Any) -> TestResponse:
        """Send one request and validate the exchange; kwargs go to EnvironBuilder."""
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


@pytest.fixture(scope="session")
def study_datasets() -> list[pydicom.Dataset]:
    """One SR report and three 64×64 CT slices (pydicom datasets: the oracle)."""
    return make_study(StudySpec(n_slices=3, rows=64, columns=64))


@pytest.fixture(scope="session")
def study_dump(study_datasets: list[pydicom.Dataset]) -> list[dict]:
    return make_dump(study_datasets)


@pytest.fixture(scope="session")
def study_body(study_dump: list[dict]) -> bytes:
    return orjson.dumps(study_dump)


@dataclass(frozen=True)
class Stored:
    """UIDs of the ingested study: its SR instance and one CT slice."""

    study: str
    ct_series: str
    ct_instance: pydicom.Dataset
    sr_series: str
    sr_instance: pydicom.Dataset


@pytest.fixture
def stored(contract: Contract, study_datasets: list[pydicom.Dataset],
           study_body: bytes) -> Stored:
    response = contract.call("POST", "/v1/dumps", data=study_body,
                             content_type="application/dicom+json")
    assert response.status_code == 200, response.get_data()
    sr = next(ds for ds in study_datasets if ds.Modality == "SR")
    ct = next(ds for ds in study_datasets if ds.Modality == "CT")
    return Stored(ct.StudyInstanceUID, ct.SeriesInstanceUID, ct, sr.SeriesInstanceUID, sr)
