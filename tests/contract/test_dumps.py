"""POST /v1/dumps: the ingest answer and every refusal, validated against openapi.yaml."""

from __future__ import annotations

import copy
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from flask import Flask
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from sqlalchemy import Engine
from werkzeug.test import EnvironBuilder

from service import create_app
from service.settings import Settings
from tests.contract.conftest import Contract, Stored
from tests.support.database import snapshot

SMALL_LIMIT = 4096  # bytes; the example study's dump is far larger


@pytest.fixture
def small_app(tmp_path: Path) -> Iterator[Flask]:
    settings = Settings.load(environ={}, database_url=f"sqlite:///{tmp_path / 'small.sqlite3'}",
                             max_dump_bytes=SMALL_LIMIT)
    application = create_app(settings)
    yield application
    application.extensions["engine"].dispose()


@pytest.fixture
def small(openapi: OpenAPI, small_app: Flask) -> Contract:
    return Contract(openapi, small_app.test_client())


@pytest.mark.parametrize("media_type", ["application/json", "application/dicom+json"])
def test_ingest_then_ingest_again(contract: Contract, study_body: bytes, study_dump: list[dict],
                                  media_type: str) -> None:
    first = contract.call("POST", "/v1/dumps", data=study_body, content_type=media_type)
    assert first.status_code == 200
    answer = first.get_json()
    assert (answer["received"], answer["created"]) == (len(study_dump), len(study_dump))
    assert answer["studies"] == sorted({item["0020000D"]["Value"][0] for item in study_dump})
    again = contract.call("POST", "/v1/dumps", data=study_body, content_type=media_type)
    assert again.get_json()["unchanged"] == len(study_dump)
    assert again.get_json()["dump_id"] > answer["dump_id"]


def test_ingest_gzip(contract: Contract, study_body: bytes) -> None:
    response = contract.call("POST", "/v1/dumps", data=gzip.compress(study_body),
                             content_type="application/json",
                             headers={"Content-Encoding": "gzip"}, request_valid=None)
    assert response.status_code == 200
    assert response.get_json()["created"] == 4


def test_ingest_one_instance_object_with_warnings(contract: Contract,
                                                  study_dump: list[dict]) -> None:
    instance = copy.deepcopy(study_dump[1])
    instance["00280030"]["Value"] = ["0.5x", "0.5"]  # a DS that is not a number: a warning
    response = contract.call("POST", "/v1/dumps", data=orjson.dumps(instance),
                             content_type="application/json")
    assert response.status_code == 200
    warnings = response.get_json()["warnings"]
    assert [w["path"] for w in warnings] == ["$[0].00280030.Value[0]"]


@pytest.mark.parametrize(("body", "request_valid", "path"), [
    (b'[{"00080018": ', False, "$"),
    (b"[]", False, "$"),
    (b"[42]", False, "$[0]"),
    (b'[{"00080018": {"vr": "XX", "Value": ["1.2"]}}]', False, "$[0].00080018.vr"),
    (b'[{"00080060": {"vr": "CS", "Value": ["CT"]}}]', True, "$[0].0020000D"),
    (b'[{"00280010": {"vr": "US", "Value": [70000]}}]', True, "$[0].00280010.Value[0]"),
], ids=["truncated-json", "empty", "not-an-object", "unknown-vr", "missing-uids",
        "out-of-range"])
def test_invalid_dumps_are_400(contract: Contract, engine: Engine, body: bytes,
                               request_valid: bool, path: str) -> None:
    before = snapshot(engine)
    response = contract.call("POST", "/v1/dumps", data=body, content_type="application/json",
                             request_valid=request_valid)
    assert response.status_code == 400
    problem = response.get_json()
    assert path in [error["path"] for error in problem["errors"]]
    assert snapshot(engine) == before


_UIDS = (b'"0020000D": {"vr": "UI", "Value": ["1.2.3"]}, "0020000E": {"vr": "UI", "Value": '
         b'["1.2.3.4"]}, ')


@pytest.mark.parametrize(("body", "path"), [
    (b'[{' + _UIDS + b'"00080018": {"vr": "UI", "Value": ["1.2.3.4.5"]}, '
     b'"00080018": {"vr": "UI", "Value": ["1.2.3.4.6"]}}]', "$[0].00080018"),
    (b'[{' + _UIDS + b'"00080018": {"vr": "UI", "Value": ["1.2.3.4.5"]}, '
     b'"00081030": {"vr": "LO", "Value": ["\\ud800"]}}]', "$[0].00081030.Value[0]"),
    (b'[{' + _UIDS + b'"00080018": {"vr": "UI", "Value": ["1.2.3.4.5"]}, '
     b'"00281053": {"vr": "DS", "Value": [1e400]}}]', "$[0].00281053.Value[0]"),
    (b'[{' + _UIDS + b'"00080018": {"vr": "UI", "Value": ["1.2.3.4.5\\n"]}}]',
     "$[0].00080018.Value[0]"),
    (b"[" * 10_000 + b"]" * 10_000, "$"),
], ids=["duplicate-key", "lone-surrogate", "number-overflow", "control-character-in-uid",
        "nested-10000"])
def test_hostile_dumps_are_400(contract: Contract, engine: Engine, body: bytes,
                               path: str) -> None:
    before = snapshot(engine)
    # The request validator cannot judge these (JSON parsers differ on them).
    response = contract.call("POST", "/v1/dumps", data=body, content_type="application/json",
                             request_valid=None)
    assert response.status_code == 400
    assert [error["path"] for error in response.get_json()["errors"]] == [path]
    assert snapshot(engine) == before


def test_syntax_error_carries_its_position(contract: Contract) -> None:
    response = contract.call("POST", "/v1/dumps", data=b'[{"00080018": ',
                             content_type="application/json", request_valid=False)
    [error] = response.get_json()["errors"]
    assert error["instance"] is None
    assert isinstance(error["position"], int)


def test_conflict_is_409(contract: Contract, engine: Engine, stored: Stored,
                         study_dump: list[dict]) -> None:
    moved = copy.deepcopy(study_dump)
    for instance in moved:
        instance["0020000D"]["Value"] = ["2.25.1234567890"]
    before = snapshot(engine)
    response = contract.call("POST", "/v1/dumps", data=orjson.dumps(moved),
                             content_type="application/json")
    assert response.status_code == 409
    errors = response.get_json()["errors"]
    assert {e["SOPInstanceUID"] for e in errors if "SOPInstanceUID" in e} == \
        {item["00080018"]["Value"][0] for item in study_dump}
    assert {e["SeriesInstanceUID"] for e in errors if "SeriesInstanceUID" in e} == \
        {stored.ct_series, stored.sr_series}
    assert snapshot(engine) == before


def test_too_large_is_413(small: Contract, study_body: bytes) -> None:
    assert len(study_body) > SMALL_LIMIT
    response = small.call("POST", "/v1/dumps", data=study_body, content_type="application/json")
    assert response.status_code == 413
    assert str(SMALL_LIMIT) in response.get_json()["detail"]


def test_too_large_once_decompressed_is_413(small: Contract, study_body: bytes) -> None:
    compressed = gzip.compress(study_body)
    assert len(compressed) < SMALL_LIMIT < len(study_body)
    response = small.call("POST", "/v1/dumps", data=compressed, content_type="application/json",
                          headers={"Content-Encoding": "gzip"}, request_valid=None)
    assert response.status_code == 413


@pytest.mark.parametrize(("kwargs", "request_valid", "header"), [
    ({"content_type": "text/plain"}, False, "Content-Type"),
    ({}, False, "Content-Type"),
    ({"content_type": "application/json", "headers": {"Content-Encoding": "br"}}, False,
     "Content-Encoding"),
    ({"content_type": "application/json", "headers": {"Content-Encoding": "gzip"}}, None,
     "Content-Encoding"),
], ids=["text-plain", "no-content-type", "brotli", "broken-gzip"])
def test_unsupported_media_type_is_415(contract: Contract, kwargs: dict,
                                       request_valid: bool | None, header: str) -> None:
    response = contract.call("POST", "/v1/dumps", data=b"[]", request_valid=request_valid,
                             **kwargs)
    assert response.status_code == 415
    assert response.get_json()["header"] == header


class BrokenBody(io.BytesIO):
    """A body the server ends (gunicorn: wsgi.input_terminated) that fails after a piece."""

    def __init__(self, first: bytes, error: OSError) -> None:
        super().__init__(first)
        self.error = error

    def read(self, size: int | None = -1) -> bytes:
        if data := super().read(size):
            return data
        raise self.error


@pytest.mark.parametrize(("error", "status"), [
    (TimeoutError("the read deadline passed"), 408),  # service.front.worker's deadline
    (ConnectionResetError(), 400),  # the client went away mid-body
])
def test_a_body_that_stops_arriving_is_a_client_error(
        contract: Contract, engine: Engine, study_body: bytes, error: OSError,
        status: int) -> None:
    before = snapshot(engine)
    response = contract.client.post(
        "/v1/dumps", input_stream=BrokenBody(study_body[:100], error),
        content_type="application/dicom+json",
        environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == status
    described = EnvironBuilder(path="/v1/dumps", method="POST", data=study_body,
                               content_type="application/dicom+json").get_request()
    contract.openapi.validate_response(WerkzeugOpenAPIRequest(described),
                                       WerkzeugOpenAPIResponse(response))
    assert snapshot(engine) == before
