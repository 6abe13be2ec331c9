"""The document itself: valid OpenAPI 3.1, and in step with the app's URL map."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from service.dicom.json_model import ALL_VRS
from service.dicom.uids import is_identifier

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Flask adds these to every rule; the document describes the methods the views implement.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


def app_operations(app: Flask) -> set[tuple[str, str]]:
    """(method, OpenAPI path template) of every URL rule the app serves."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":  # Flask's own static route, not part of the API
            continue
        template = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in IMPLICIT_METHODS:
                operations.add((method.lower(), template))
    return operations


def spec_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items()
            for method in HTTP_METHODS if method in item}


def test_document_is_valid_openapi_3_1(spec_document: dict[str, Any]) -> None:
    assert spec_document["openapi"].startswith("3.1.")
    validate(spec_document)


@pytest.mark.parametrize("paths", [
    {"/healthz": {"get": {"responses": {"200": {"content": {}}}}}},  # no description
    {"/v1/studies/{study}": {"get": {"responses": {"204": {"description": "x"}}}}},
], ids=["response-without-description", "undeclared-path-parameter"])
def test_validator_rejects_a_broken_document(paths: dict[str, Any]) -> None:
    # The check above must be able to fail (a small document: validating is slow).
    valid = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
             "paths": {"/healthz": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    validate(valid)
    with pytest.raises(OpenAPIValidationError):
        validate({**valid, "paths": paths})


def test_every_app_route_is_described(app: Flask, spec_document: dict[str, Any]) -> None:
    undocumented = app_operations(app) - spec_operations(spec_document)
    assert not undocumented, f"routes missing from openapi.yaml: {sorted(undocumented)}"


def test_every_described_operation_is_served(app: Flask,
                                             spec_document: dict[str, Any]) -> None:
    unserved = spec_operations(spec_document) - app_operations(app)
    assert not unserved, f"openapi.yaml describes routes the app lacks: {sorted(unserved)}"


def test_route_conversion_matches_flask_syntax() -> None:
    app = Flask(__name__)
    app.add_url_rule("/a/<study>/b/<int:n>/<path:rest>", "x", lambda **_: "")
    assert ("get", "/a/{study}/b/{n}/{rest}") in app_operations(app)


def test_every_operation_has_a_unique_id(spec_document: dict[str, Any]) -> None:
    ids = [item[method]["operationId"] for item in spec_document["paths"].values()
           for method in HTTP_METHODS if method in item]
    assert len(ids) == len(set(ids))


def test_uid_paths_answer_400_and_404_as_problems(spec_document: dict[str, Any]) -> None:
    for path, item in spec_document["paths"].items():
        if "{study}" not in path:
            continue
        for method in HTTP_METHODS:
            if method in item:
                responses = item[method]["responses"]
                assert responses["400"] == {"$ref": "#/components/responses/BadParameter"}, path
                assert responses["404"] == {"$ref": "#/components/responses/NotFound"}, path


def test_every_error_response_is_a_problem(spec_document: dict[str, Any]) -> None:
    components = spec_document["components"]["responses"]
    for path, item in spec_document["paths"].items():
        for method in HTTP_METHODS:
            for status, response in item.get(method, {}).get("responses", {}).items():
                if int(status) < 400:
                    continue
                name = response["$ref"].rsplit("/", 1)[-1]
                assert list(components[name]["content"]) == ["application/problem+json"], \
                    (method, path, status)


@pytest.mark.parametrize("value", ["1.2.840.10008.5.1.4.1.1.2", "0", "2.25." + "9" * 59,
                                   "1.02", "1.2a", "1..2", "1.2.", "", "abc", "2.25." + "9" * 60])
def test_uid_schema_agrees_with_the_service(spec_document: dict[str, Any], value: str) -> None:
    schema = spec_document["components"]["schemas"]["UID"]
    matches = (bool(re.search(schema["pattern"], value))
               and schema["minLength"] <= len(value) <= schema["maxLength"])
    assert matches == is_identifier(value)


def test_vr_enumeration_agrees_with_the_validator(spec_document: dict[str, Any]) -> None:
    assert set(spec_document["components"]["schemas"]["VR"]["enum"]) == set(ALL_VRS)
