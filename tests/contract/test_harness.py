"""The contract checks can fail: a document altered in one place rejects real answers.

Without these, a validator that silently accepted everything (an unknown media type
read as bytes, a $ref not followed, recursion not entered) would make every other
test in this directory pass for nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from openapi_core import Config, OpenAPI

from tests.contract.conftest import DESERIALIZERS, Contract, Stored

Mutation = Callable[[dict[str, Any]], None]


def _schemas(document: dict[str, Any]) -> dict[str, Any]:
    return document["components"]["schemas"]


def drop_warnings(document: dict[str, Any]) -> None:
    del _schemas(document)["IngestResult"]["properties"]["warnings"]


def require_unknown_study_attribute(document: dict[str, Any]) -> None:
    _schemas(document)["Study"]["allOf"][1]["required"].append("NoSuchAttribute")


def other_not_found_type(document: dict[str, Any]) -> None:
    problem = document["components"]["responses"]["NotFound"]["content"]
    problem["application/problem+json"]["schema"]["allOf"][1]["properties"]["type"]["const"] \
        = "https://dicom-resolver.dev/problems/gone"


def no_dicom_json_view(document: dict[str, Any]) -> None:
    path = document["paths"]["/v1/studies/{study}/series/{series}/instances/{instance}"]
    del path["get"]["responses"]["200"]["content"]["application/dicom+json"]


def dicom_json_needs_string_values(document: dict[str, Any]) -> None:
    _schemas(document)["DicomJsonAttribute"]["properties"]["Value"]["items"] = {"type": "string"}


def required_health_header(document: dict[str, Any]) -> None:
    document["paths"]["/healthz"]["get"]["responses"]["200"]["headers"] = {
        "X-Never": {"required": True, "schema": {"type": "string"}}}


def closed_content_items(document: dict[str, Any]) -> None:
    del _schemas(document)["ContentItem"]["properties"]["continuity"]


def even_private_groups(document: dict[str, Any]) -> None:
    _schemas(document)["PrivateAttribute"]["properties"]["tag"]["pattern"] = \
        "^[0-9A-F]{3}[02468ACE][0-9A-F]{4}$"


def no_code_value_in_sequence_items(document: dict[str, Any]) -> None:
    # CodeValue only appears inside sequence items (e.g. ProcedureCodeSequence): this
    # fails only if the validator walks AttributeValue → array → Attributes recursively.
    _schemas(document)["Attributes"]["propertyNames"]["pattern"] = \
        "^(?!CodeValue$)([A-Za-z][A-Za-z0-9]*|[0-9A-F]{8})$"


def page_limit_below_default(document: dict[str, Any]) -> None:
    _schemas(document)["InstancePage"]["properties"]["limit"]["maximum"] = 10


def _calls(stored: Stored) -> dict[str, tuple[str, str, dict[str, Any]]]:
    ct, sr = stored.ct_instance, stored.sr_instance
    instance = f"/v1/studies/{stored.study}/series/{stored.ct_series}/instances/" \
               f"{ct.SOPInstanceUID}"
    return {
        "ingest": ("POST", "/v1/dumps", {}),
        "study": ("GET", f"/v1/studies/{stored.study}", {}),
        "missing": ("GET", f"/v1/studies/{stored.study}/series/1.2.3", {}),
        "dicom": ("GET", f"/v1/studies/{stored.study}/series/{stored.sr_series}/instances/"
                         f"{sr.SOPInstanceUID}", {"query_string": {"view": "dicom"}}),
        "health": ("GET", "/healthz", {}),
        "reports": ("GET", f"/v1/studies/{stored.study}/reports", {}),
        "instance": ("GET", instance, {}),
        "instances": ("GET", f"/v1/studies/{stored.study}/series/{stored.ct_series}/instances",
                      {}),
    }


@pytest.mark.parametrize(("mutation", "call"), [
    (drop_warnings, "ingest"),
    (require_unknown_study_attribute, "study"),
    (other_not_found_type, "missing"),
    (no_dicom_json_view, "dicom"),
    (dicom_json_needs_string_values, "dicom"),
    (required_health_header, "health"),
    (closed_content_items, "reports"),
    (even_private_groups, "instance"),
    (no_code_value_in_sequence_items, "instance"),
    (page_limit_below_default, "instances"),
], ids=lambda value: getattr(value, "__name__", value))
def test_altered_document_rejects_the_real_answer(
        spec_document: dict[str, Any], reader: Contract, uids: Stored, study_body: bytes,
        mutation: Mutation, call: str) -> None:
    method, path, kwargs = _calls(uids)[call]
    if call == "ingest":
        kwargs = {"data": study_body, "content_type": "application/json"}
    # Only responses are at stake here: request checks are skipped (request_valid=None).
    # The unaltered document accepts the exchange...
    reader.call(method, path, request_valid=None, **kwargs)
    # ...and the document altered in one place refuses the same exchange. (The altered
    # document is still valid OpenAPI; skipping that check saves half a second each.)
    altered = copy.deepcopy(spec_document)
    mutation(altered)
    strict = OpenAPI.from_dict(altered, config=Config(
        extra_media_type_deserializers=DESERIALIZERS, spec_validator_cls=None))
    with pytest.raises(pytest.fail.Exception, match="breaks the contract"):
        Contract(strict, reader.client).call(method, path, request_valid=None, **kwargs)
