"""/v1/imports and /v1/notifications/pubsub exchanges, validated against openapi.yaml."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from openapi_core import OpenAPI

from service.emulator.keys import ServiceAccount
from service.emulator.server import Emulator
from tests.contract.conftest import Contract
from tests.support.emulated import app_maker, emulator_credentials, new_account
from tests.support.google_store import StandInStudy, importing_settings, write_studies

AUDIENCE = "https://resolver.example.org/v1/notifications/pubsub"
PUSH_EMAIL = "push@demo-project.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def account() -> ServiceAccount:
    return new_account()


@pytest.fixture(scope="module")
def store_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[StandInStudy]]:
    folder = tmp_path_factory.mktemp("contract-store")
    return folder, write_studies(folder, slices=1)


@pytest.fixture
def stand_in(store_folder: tuple[Path, list[StandInStudy]],
             account: ServiceAccount) -> Iterator[Emulator]:
    with Emulator(store_folder[0], account=account) as running:
        yield running


@pytest.fixture
def app(stand_in: Emulator, database_url: str) -> Iterator[Flask]:
    with app_maker() as make:
        yield make(importing_settings(
            stand_in, database_url, pubsub_audience=AUDIENCE,
            pubsub_allowed_emails=(PUSH_EMAIL,), pubsub_certs_url=stand_in.certs_url),
            credentials=emulator_credentials(stand_in))


@pytest.fixture
def contract(openapi: OpenAPI, app: Flask) -> Contract:
    return Contract(openapi, app.test_client())


def test_import_lifecycle(contract: Contract, app: Flask,
                          store_folder: tuple[Path, list[StandInStudy]]) -> None:
    studies = store_folder[1]
    created = contract.call("POST", "/v1/imports", json={"filters": {"StudyDate": "20240101-"}})
    assert created.status_code == 202
    location = created.headers["Location"]
    assert contract.call("GET", location).get_json()["state"] == "queued"
    app.extensions["import_worker"].run(created.get_json()["id"])
    done = contract.call("GET", location)
    assert done.get_json()["studies"]["done"] == len(studies)
    finished = contract.call("DELETE", location)
    assert finished.status_code == 409 and finished.get_json()["state"] == "done"
    queued = contract.call("POST", "/v1/imports", json={"study_uids": [studies[0].study_uid]})
    cancelled = contract.call("DELETE", queued.headers["Location"])
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    assert contract.call("GET", "/v1/imports/" + "f" * 32).status_code == 404


@pytest.mark.parametrize("body", [
    {"filters": {"StudyDate": "yesterday"}}, {"study_uids": ["1.2"], "filters": {}},
    {"study_uids": []}, {"filters": {"Nope": "1"}},
])
def test_import_refusals(contract: Contract, body: dict) -> None:
    answer = contract.call("POST", "/v1/imports", json=body, request_valid=False)
    assert answer.status_code == 400


def test_import_needs_json(contract: Contract) -> None:
    answer = contract.call("POST", "/v1/imports", data="study_uids=1.2",
                           content_type="application/x-www-form-urlencoded", request_valid=False)
    assert answer.status_code == 415


def test_push_exchanges(contract: Contract, stand_in: Emulator) -> None:
    key = sorted(stand_in._require_app().folder.keys(),  # noqa: SLF001 - test access
                 key=lambda k: k.sop_uid)[0]
    body = stand_in.notifier.message(key, message_id="900")
    token = stand_in.notifier.signer.id_token(AUDIENCE, PUSH_EMAIL)
    headers = {"Authorization": f"Bearer {token}"}
    stored = contract.call("POST", "/v1/notifications/pubsub", json=body, headers=headers)
    assert stored.status_code == 200 and stored.get_json()["status"] == "stored"
    again = contract.call("POST", "/v1/notifications/pubsub", json=body, headers=headers)
    assert again.get_json()["status"] == "duplicate"
    anonymous = contract.call("POST", "/v1/notifications/pubsub", json=body,
                              request_valid=False)
    assert anonymous.status_code == 401
    wrong = stand_in.notifier.signer.id_token("https://elsewhere.example/", PUSH_EMAIL)
    assert contract.call("POST", "/v1/notifications/pubsub", json=body,
                         headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    malformed = contract.call("POST", "/v1/notifications/pubsub", headers=headers,
                              json={"message": {"messageId": "1"}}, request_valid=False)
    assert malformed.status_code == 400
    name = "projects/x/locations/l/datasets/d/dicomStores/s/dicomWeb/studies/1.2/series/1.3" \
           "/instances/1.4"
    other = contract.call("POST", "/v1/notifications/pubsub", headers=headers, json={
        "message": {"messageId": "2", "data": base64.b64encode(name.encode()).decode()}})
    assert other.status_code == 422
