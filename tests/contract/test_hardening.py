"""The hardened answers keep the contract: 400s for integers beyond 64 bits on DICOMweb,
and the 404 problem for paths no route has (validated against the Problem schema, since
no operation describes a path that does not exist)."""

from __future__ import annotations

import jsonschema
import pytest
from flask.testing import FlaskClient

from tests.contract.conftest import Contract


@pytest.mark.parametrize("query", [f"offset={2**64}", f"limit={2**64}",
                                   f"InstanceNumber={2**64}", "00200013=-1e400"])
def test_dicomweb_integers_beyond_64_bits(contract: Contract, query: str) -> None:
    answer = contract.call("GET", f"/dicomweb/instances?{query}",
                           request_valid=not query.startswith(("offset", "limit")))
    assert answer.status_code == 400 and answer.get_json()["parameter"] == query.split("=")[0]


@pytest.mark.parametrize("path", ["/dicomweb/nothing", "/v1/studies/1.2.3/nothing",
                                  "/dicomweb/workitems", "/v1/"])
def test_unrouted_paths_answer_a_problem(client: FlaskClient, spec_document: dict,
                                         path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    schema = {**spec_document["components"]["schemas"]["Problem"],
              "components": spec_document["components"]}
    jsonschema.Draft202012Validator(schema).validate(answer.get_json())
