"""Apps wired to a running Healthcare API emulator: its service-account credentials,
settings pointed at it with bounded retries, and a BulkDataClient with short backoffs.

Shared by tests/api/pixels, tests/api/volumes, tests/api/dicomweb, tests/usecases,
tests/bulkdata, tests/emulator and tests/explorer; each keeps its own fixtures (names, scopes,
corpus) and calls these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask
from google.oauth2 import service_account

from service import create_app
from service.bulkdata.client import BulkDataClient
from service.bulkdata.credentials import HEALTHCARE_SCOPE
from service.emulator.keys import ServiceAccount
from service.emulator.server import Emulator
from service.settings import Settings
from service.usecases.ingest import ingest_bytes
from tests.support import dcm_files

# Retried fetches cost milliseconds instead of the production half-second and more.
FAST_BACKOFF: dict[str, float] = {"backoff_base": 0.01, "backoff_max": 0.05}
# Few retries and short timeouts, so that a fault the emulator injects ends a test quickly.
UPSTREAM_LIMITS: dict[str, Any] = {
    "upstream_max_retries": 3, "upstream_retry_budget_seconds": 5.0,
    "upstream_connect_timeout": 2.0, "upstream_read_timeout": 5.0}


def new_account() -> ServiceAccount:
    """A fresh service account (RSA key) for an emulator to trust."""
    return ServiceAccount.generate("demo-project")


def emulator_credentials(emulator: Emulator) -> service_account.Credentials:
    """google-auth service-account credentials from the emulator's key file."""
    return service_account.Credentials.from_service_account_file(
        str(emulator.key_file), scopes=[HEALTHCARE_SCOPE])


def emulated_settings(emulator: Emulator, **overrides: Any) -> Settings:
    """Settings whose Healthcare API is `emulator`, with UPSTREAM_LIMITS unless overridden."""
    values: dict[str, Any] = {"healthcare_api_root": emulator.api_root, **UPSTREAM_LIMITS}
    values.update(overrides)
    return Settings.load(environ={}, **values)


def use_emulator_adc(monkeypatch: pytest.MonkeyPatch, emulator: Emulator,
                     gcloud_dir: Path) -> Path:
    """Application Default Credentials = the emulator's key file, and nothing else to find."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(emulator.key_file))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(gcloud_dir))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    return emulator.key_file


def emulated_app(settings: Settings, *, credentials: Any = None,
                 dumps: Iterable[list[dict[str, Any]]] = (),
                 fast_retries: bool = True) -> Flask:
    """create_app with an injected BulkDataClient (short backoffs unless fast_retries is
    False), every dump of `dumps` ingested into its store."""
    app = create_app(settings, bulkdata=lambda cache: BulkDataClient(
        settings, cache=cache, credentials=credentials, **(FAST_BACKOFF if fast_retries else {})))
    for dump in dumps:
        ingest_bytes(app.extensions["engine"], orjson.dumps(dump))
    return app


def close_app(app: Flask) -> None:
    """Close what emulated_app opened: the client's sessions and the store's engine."""
    app.extensions["bulkdata"].close()
    app.extensions["engine"].dispose()


@contextmanager
def app_maker() -> Iterator[Callable[..., Flask]]:
    """emulated_app for one fixture's lifetime; every app it made is closed at the end."""
    made: list[Flask] = []

    def make(settings: Settings, **kwargs: Any) -> Flask:
        app = emulated_app(settings, **kwargs)
        made.append(app)
        return app

    try:
        yield make
    finally:
        for app in made:
            close_app(app)


def corpus_emulator_fixtures() -> tuple[Callable[..., Any], ...]:
    """Fixtures `account` (one service account for the session) and `emulator` (a fresh
    emulator per test over the `corpus` fixture's folder: clean request log and faults);
    a conftest binds them to those names."""

    @pytest.fixture(scope="session")
    def account() -> ServiceAccount:
        return new_account()

    @pytest.fixture
    def emulator(corpus: Any, account: ServiceAccount) -> Iterator[Emulator]:
        with Emulator(corpus.folder, account=account) as running:
            yield running

    return account, emulator


def folder_emulator_fixtures() -> tuple[Callable[..., Any], ...]:
    """Fixtures `dicom_folder` (dcm_files.write_folder once per session: the folder and what
    it holds), `instances`, `service_account_key`, `emulator` (a fresh emulator per test over
    that folder) and `credentials` for it; the conftests of tests/emulator and tests/bulkdata
    bind them to those names."""

    @pytest.fixture(scope="session")
    def dicom_folder(tmp_path_factory: pytest.TempPathFactory
                     ) -> tuple[Path, dict[str, dcm_files.Written]]:
        folder = tmp_path_factory.mktemp("dicom")
        return folder, dcm_files.write_folder(folder)

    @pytest.fixture
    def instances(dicom_folder: tuple[Path, dict[str, dcm_files.Written]]
                  ) -> dict[str, dcm_files.Written]:
        return dicom_folder[1]

    @pytest.fixture(scope="session")
    def service_account_key() -> ServiceAccount:
        return new_account()

    @pytest.fixture
    def emulator(dicom_folder: tuple[Path, dict[str, dcm_files.Written]],
                 service_account_key: ServiceAccount) -> Iterator[Emulator]:
        with Emulator(dicom_folder[0], account=service_account_key) as running:
            yield running

    @pytest.fixture
    def credentials(emulator: Emulator) -> service_account.Credentials:
        return emulator_credentials(emulator)

    return dicom_folder, instances, service_account_key, emulator, credentials
