"""POST /v1/notifications/pubsub: Pub/Sub push of new instances, with Google-signed OIDC
tokens (signed by the stand-in, verified against its certificates like Google's)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from service.emulator.dicomstore import InstanceKey
from service.emulator.keys import ServiceAccount
from service.emulator.server import Emulator
from service.examples.factory import StudySpec, make_study, write_dicom_files
from tests.support.emulated import app_maker, emulated_settings, emulator_credentials
from tests.support.google_store import stored_rows, write_studies
from tests.support.net import serving

PUSH_EMAIL = "pubsub-push@demo-project.iam.gserviceaccount.com"
AUDIENCE = "https://resolver.example.org/v1/notifications/pubsub"
OTHER_STORE = "projects/other/locations/eu/datasets/d/dicomStores/s"


@pytest.fixture
def live_store(tmp_path: Path, account: ServiceAccount) -> Iterator[Emulator]:
    """A stand-in of its own (files get added to it) holding one study."""
    folder = tmp_path / "live-store"
    write_studies(folder, (("20240601", "PAT-L", "CT"),), slices=2, seed=900)
    with Emulator(folder, account=account) as running:
        yield running


@pytest.fixture
def mirror(live_store: Emulator, database_url: str) -> Iterator[Callable[..., Flask]]:
    with app_maker() as make:
        def build(**overrides: Any) -> Flask:
            values: dict[str, Any] = {
                "database_url": database_url, "migrate_on_start": True,
                "dicom_store": live_store.store_path, "pubsub_audience": AUDIENCE,
                "pubsub_allowed_emails": (PUSH_EMAIL,),
                "pubsub_certs_url": live_store.certs_url, **overrides}
            settings = emulated_settings(live_store, **values)
            return make(settings, credentials=emulator_credentials(live_store))

        yield build


def new_instances(folder: Path, seed: int) -> list[Path]:
    """Files of a new study (a report and two images), not yet in the stand-in."""
    return write_dicom_files(make_study(StudySpec(seed=seed, n_slices=2, rows=16, columns=16)),
                             folder)


def push(client: FlaskClient, body: dict | bytes, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post("/v1/notifications/pubsub", data=data, headers=headers,
                       content_type="application/json")


def token(live_store: Emulator, audience: str = AUDIENCE, email: str = PUSH_EMAIL) -> str:
    return live_store.notifier.signer.id_token(audience, email)


def outcome_count(client: FlaskClient, outcome: str) -> float:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(f'dicom_resolver_notifications_total{{outcome="{outcome}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_files_added_to_the_store_are_mirrored_by_push(
        live_store: Emulator, mirror: Callable[..., Flask], tmp_path: Path,
        database_url: str) -> None:
    app = mirror()
    with serving(app) as server:
        live_store.subscribe(f"http://127.0.0.1:{server.server_port}/v1/notifications/pubsub",
                             AUDIENCE, email=PUSH_EMAIL)
        added = live_store.add_files(*new_instances(tmp_path / "new", seed=901))
    assert len(added) == 3
    deliveries = live_store.notifier.subscription.deliveries  # type: ignore[union-attr]
    assert [d.status for d in deliveries] == [200, 200, 200]
    client = app.test_client()
    for key in added:
        stored = client.get(f"/v1/studies/{key.study_uid}/series/{key.series_uid}"
                            f"/instances/{key.sop_uid}")
        assert stored.status_code == 200
    # The same rows as importing that study from the stand-in (its metadata by hand).
    importer = mirror(database_url=f"sqlite:///{tmp_path / 'imported.sqlite3'}")
    created = importer.test_client().post(
        "/v1/imports", json={"study_uids": [added[0].study_uid]}).get_json()
    importer.extensions["import_worker"].run(created["id"])
    assert stored_rows(app.extensions["engine"]) == stored_rows(importer.extensions["engine"])
    assert outcome_count(client, "stored") == 3


def test_a_replayed_message_is_stored_once(live_store: Emulator,
                                           mirror: Callable[..., Flask]) -> None:
    client = mirror().test_client()
    [key] = [k for k in live_store_keys(live_store)][:1]
    body = live_store.notifier.message(key, message_id="4242")
    first = push(client, body, token(live_store))
    assert first.status_code == 200 and first.get_json()["status"] == "stored"
    assert first.get_json()["created"] == 1
    again = push(client, body, token(live_store))
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    fetched = [r for r in live_store.requests if r.path.endswith(f"{key.sop_uid}/metadata")]
    assert len(fetched) == 1
    # Another message about the same instance (Google may publish twice): stored again,
    # idempotently.
    other = push(client, live_store.notifier.message(key, message_id="4243"), token(live_store))
    assert other.get_json()["status"] == "stored" and other.get_json()["unchanged"] == 1
    assert outcome_count(client, "duplicate") == 1
    assert outcome_count(client, "stored") == 2


def live_store_keys(live_store: Emulator) -> list[InstanceKey]:
    return sorted(live_store._require_app().folder.keys(),  # noqa: SLF001 - test access
                  key=lambda key: key.sop_uid)


@pytest.mark.parametrize(("case", "status", "outcome"), [
    ("wrong audience", 401, "unauthenticated"),
    ("no token", 401, "unauthenticated"),
    ("forged signature", 401, "unauthenticated"),
    ("other service account", 403, "forbidden"),
])
def test_tokens_are_verified(live_store: Emulator, mirror: Callable[..., Flask], case: str,
                             status: int, outcome: str) -> None:
    client = mirror().test_client()
    key = live_store_keys(live_store)[0]
    good = token(live_store)
    bearer = {"wrong audience": token(live_store, audience="https://elsewhere.example/"),
              "no token": None,
              "forged signature": good[:-8] + ("A" * 8 if not good.endswith("A" * 8)
                                               else "B" * 8),
              "other service account": token(live_store, email="intruder@evil.example")}[case]
    answer = push(client, live_store.notifier.message(key), bearer)
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"
    assert "WWW-Authenticate" in answer.headers
    assert good not in answer.get_data(as_text=True)
    assert [r for r in live_store.requests if r.path.endswith("/metadata")] == []
    assert outcome_count(client, outcome) == 1


def encoded(name: str) -> str:
    return base64.b64encode(name.encode()).decode()


@pytest.mark.parametrize(("body", "pointer"), [
    (b"not json", "/"),
    ({"subscription": "s"}, "/message"),
    ({"message": {"data": encoded("x")}}, "/message/messageId"),
    ({"message": {"messageId": "1"}}, "/message/data"),
    ({"message": {"messageId": "1", "data": "%%%"}}, "/message/data"),
    ({"message": {"messageId": "1", "data": encoded(
        "projects/p/locations/l/datasets/d/dicomStores/s/dicomWeb/studies/1.2")}},
     "/message/data"),
    ({"message": {"messageId": "1", "data": encoded(
        "projects/p/locations/l/datasets/d/dicomStores/s/dicomWeb/studies/1.2/series/1.3"
        "/instances/../../x")}}, "/message/data"),
])
def test_malformed_messages_are_400(live_store: Emulator, mirror: Callable[..., Flask],
                                    body: dict | bytes, pointer: str) -> None:
    client = mirror().test_client()
    answer = push(client, body, token(live_store))
    assert answer.status_code == 400
    assert answer.get_json()["pointer"] == pointer
    assert outcome_count(client, "malformed") == 1


def test_unknown_stores_are_refused_and_mirror_stores_accepted(
        live_store: Emulator, mirror: Callable[..., Flask]) -> None:
    client = mirror().test_client()
    key = live_store_keys(live_store)[0]
    body = live_store.notifier.message(key)
    name = base64.b64decode(body["message"]["data"]).decode()
    body["message"]["data"] = encoded(name.replace(live_store.store_path, OTHER_STORE))
    answer = push(client, body, token(live_store))
    assert answer.status_code == 422
    assert outcome_count(client, "unknown_store") == 1
    # Listed in DICOM_RESOLVER_MIRROR_STORES it is mirrored (the stand-in serves one store
    # only, so it answers 403 for the other: the push is not acknowledged).
    listed = mirror(mirror_stores=(OTHER_STORE,)).test_client()
    assert push(listed, body, token(live_store)).status_code == 502


def test_a_failed_fetch_is_not_acknowledged_and_redelivery_stores_it(
        live_store: Emulator, mirror: Callable[..., Flask]) -> None:
    client = mirror(upstream_max_retries=0).test_client()
    key = live_store_keys(live_store)[0]
    live_store.inject(f"{key.sop_uid}/metadata", status=503, count=1)
    body = live_store.notifier.message(key, message_id="77")
    failed = push(client, body, token(live_store))
    assert failed.status_code == 502
    assert client.get(f"/v1/studies/{key.study_uid}").status_code == 404
    redelivered = push(client, body, token(live_store))
    assert redelivered.status_code == 200 and redelivered.get_json()["status"] == "stored"
    assert outcome_count(client, "failed") == 1


def test_delete_notifications_are_acknowledged_and_ignored(
        live_store: Emulator, mirror: Callable[..., Flask]) -> None:
    client = mirror().test_client()
    body = live_store.notifier.message(live_store_keys(live_store)[0])
    body["message"]["attributes"]["action"] = "DeleteInstances"
    answer = push(client, body, token(live_store))
    assert answer.status_code == 200 and answer.get_json()["status"] == "ignored"
    assert [r for r in live_store.requests if r.path.endswith("/metadata")] == []


def test_off_without_an_audience_and_open_to_api_key_auth(
        live_store: Emulator, mirror: Callable[..., Flask]) -> None:
    off = mirror(pubsub_audience=None).test_client()
    body = live_store.notifier.message(live_store_keys(live_store)[0])
    assert push(off, body, token(live_store)).status_code == 404
    # With API keys for callers, Pub/Sub still gets in with its own OIDC token.
    keyed = mirror(auth="api-key", api_keys=("k" * 32,)).test_client()
    assert push(keyed, body, token(live_store)).status_code == 200
    assert keyed.get("/v1/imports/" + "0" * 32).status_code == 401


def test_the_stand_ins_certificates_are_what_google_serves(live_store: Emulator) -> None:
    certs = requests.get(live_store.certs_url, timeout=5).json()
    assert list(certs) == [live_store.notifier.signer.kid]
    assert next(iter(certs.values())).startswith("-----BEGIN CERTIFICATE-----")


def test_emulate_command_pushes_files_dropped_into_its_folder(
        tmp_path: Path, database_url: str) -> None:
    """`dicom-resolver emulate --notify-url`: a file copied into the folder reaches the
    service through a signed push, and the service stores the instance."""
    import shutil
    import subprocess
    import sys
    import time

    from google.oauth2 import service_account

    from dicom_resolver_testing.stack import free_port
    from service.bulkdata.credentials import HEALTHCARE_SCOPE

    folder, incoming = tmp_path / "watched", tmp_path / "incoming"
    folder.mkdir()
    files = new_instances(incoming, seed=905)
    port, service_port = free_port(), free_port()
    key_file = tmp_path / "key.json"
    emulator_url = f"http://127.0.0.1:{port}"
    push_url = f"http://127.0.0.1:{service_port}/v1/notifications/pubsub"
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("dicom-resolver")), "emulate", "--data",
         str(folder), "--port", str(port), "--key-file", str(key_file), "--notify-url",
         push_url, "--watch", "0.2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not key_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        credentials = service_account.Credentials.from_service_account_file(
            str(key_file), scopes=[HEALTHCARE_SCOPE])
        store = "projects/demo-project/locations/us-central1/datasets/demo-dataset/" \
                "dicomStores/demo-store"
        with app_maker() as make:
            app = make(emulated_settings(
                _Root(emulator_url), database_url=database_url, migrate_on_start=True,
                dicom_store=store, pubsub_audience=push_url,
                pubsub_certs_url=f"{emulator_url}/oauth2/v1/certs"), credentials=credentials)
            with serving(app, service_port):
                for path in files:
                    shutil.copy(path, folder / path.name)
                client = app.test_client()
                stored = 0
                while time.monotonic() < deadline + 30 and stored < len(files):
                    body = client.get("/v1/studies?limit=10").get_json()
                    stored = sum(item["NumberOfStudyRelatedInstances"]
                                 for item in body["items"]) if body["items"] else 0
                    time.sleep(0.2)
                assert stored == len(files)
                assert outcome_count(client, "stored") == len(files)
    finally:
        process.terminate()
        process.wait(10)


class _Root:
    """What emulated_settings needs of an emulator: its API root."""

    def __init__(self, url: str) -> None:
        self.api_root = url
