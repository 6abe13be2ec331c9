"""Fixtures: the emulator over pydicom-written files, real service-account credentials for
it, and a BulkDataClient re-rooted onto it with short backoffs."""

from __future__ import annotations

import pytest

from service.bulkdata.client import BulkDataClient
from service.emulator.server import Emulator
from service.settings import Settings
from tests.support.emulated import FAST_BACKOFF, emulated_settings, folder_emulator_fixtures

dicom_folder, instances, service_account_key, emulator, credentials = folder_emulator_fixtures()


@pytest.fixture
def make_settings(emulator):
    def make(**overrides) -> Settings:
        return emulated_settings(emulator, **overrides)

    return make


@pytest.fixture
def make_client(make_settings, credentials):
    clients: list[BulkDataClient] = []

    def make(settings: Settings | None = None, **kwargs) -> BulkDataClient:
        kwargs = {"credentials": credentials, **FAST_BACKOFF, **kwargs}
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
