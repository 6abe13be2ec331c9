"""Fixtures: the emulator over pydicom-written files, real service-account credentials for
it, and a BulkDataClient re-rooted onto it with short backoffs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from google.oauth2 import service_account

from service.bulkdata.auth import HEALTHCARE_SCOPE
from service.bulkdata.client import BulkDataClient
from service.emulator.keys import ServiceAccount
from service.emulator.server import Emulator
from service.settings import Settings

_FIXTURES = Path(__file__).parents[1] / "emulator" / "dcm_fixtures.py"
_spec = importlib.util.spec_from_file_location("bulkdata_dcm_fixtures", _FIXTURES)
dcm_fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = dcm_fixtures  # dataclasses look their module up there
_spec.loader.exec_module(dcm_fixtures)


@pytest.fixture(scope="session")
def dicom_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dicom")
    return folder, dcm_fixtures.write_folder(folder)


@pytest.fixture
def instances(dicom_folder):
    return dicom_folder[1]


@pytest.fixture(scope="session")
def service_account_key():
    return ServiceAccount.generate("demo-project")


@pytest.fixture
def emulator(dicom_folder, service_account_key):
    with Emulator(dicom_folder[0], account=service_account_key) as running:
        yield running


@pytest.fixture
def credentials(emulator):
    return service_account.Credentials.from_service_account_file(
        str(emulator.key_file), scopes=[HEALTHCARE_SCOPE])


@pytest.fixture
def make_settings(emulator):
    def make(**overrides) -> Settings:
        values = {"healthcare_api_root": emulator.api_root, "upstream_max_retries": 3,
                  "upstream_retry_budget_seconds": 5.0, "upstream_connect_timeout": 2.0,
                  "upstream_read_timeout": 5.0}
        values.update(overrides)
        return Settings.load(environ={}, **values)

    return make


@pytest.fixture
def make_client(make_settings, credentials):
    clients: list[BulkDataClient] = []

    def make(settings: Settings | None = None, **kwargs) -> BulkDataClient:
        kwargs.setdefault("credentials", credentials)
        kwargs.setdefault("backoff_base", 0.01)
        kwargs.setdefault("backoff_max", 0.05)
        client = BulkDataClient(settings or make_settings(), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def fetch():
    """fetch_pixel_data for a fixture, with the Google-form BulkDataURI a dump would carry."""
    return _fetch


def _fetch(client: BulkDataClient, emulator: Emulator, written, **overrides):
    arguments = {
        "pixel_data_uri": emulator.bulkdata_uri(written.study_uid, written.series_uid,
                                                written.sop_uid),
        "instance_uri_hint": None, "study_uid": written.study_uid,
        "series_uid": written.series_uid, "sop_uid": written.sop_uid,
        "stored_transfer_syntax": written.transfer_syntax,
    }
    arguments.update(overrides)
    return client.fetch_pixel_data(**arguments)
