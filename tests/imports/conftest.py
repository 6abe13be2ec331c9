"""Fixtures: a stand-in DICOM store of several studies, apps importing from it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from google.auth.transport.requests import AuthorizedSession

from service.emulator.keys import ServiceAccount
from service.emulator.server import Emulator
from tests.support.emulated import app_maker, emulator_credentials, new_account
from tests.support.google_store import StandInStudy, importing_settings, write_studies


@pytest.fixture(scope="session")
def account() -> ServiceAccount:
    return new_account()


@pytest.fixture(scope="session")
def store_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[StandInStudy]]:
    folder = tmp_path_factory.mktemp("google-store")
    return folder, write_studies(folder)


@pytest.fixture
def stand_in(store_folder: tuple[Path, list[StandInStudy]],
             account: ServiceAccount) -> Iterator[Emulator]:
    with Emulator(store_folder[0], account=account) as running:
        yield running


@pytest.fixture
def studies(store_folder: tuple[Path, list[StandInStudy]]) -> list[StandInStudy]:
    return store_folder[1]


@pytest.fixture
def session(stand_in: Emulator) -> Iterator[requests.Session]:
    """An authorized session on the stand-in, to export metadata by hand."""
    authorized = AuthorizedSession(emulator_credentials(stand_in))
    yield authorized
    authorized.close()


@pytest.fixture
def make_app(stand_in: Emulator, database_url: str) -> Iterator[Callable[..., Flask]]:
    """Apps on the test's store, importing from the stand-in (worker not started)."""
    with app_maker() as make:
        def build(**overrides: Any) -> Flask:
            return make(importing_settings(stand_in, database_url, **overrides),
                        credentials=emulator_credentials(stand_in))

        yield build


@pytest.fixture
def service_env(stand_in: Emulator, database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a `dicom-resolver` process importing from the stand-in into the
    test's store: none of the caller's DICOM_RESOLVER_* settings, the stand-in's key file."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("DICOM_RESOLVER_")}
    env.update({
        "GOOGLE_APPLICATION_CREDENTIALS": str(stand_in.key_file),
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"), "NO_GCE_CHECK": "True",
        "DICOM_RESOLVER_HEALTHCARE_API_ROOT": stand_in.api_root,
        "DICOM_RESOLVER_DICOM_STORE": stand_in.store_path,
        "DICOM_RESOLVER_DATABASE_URL": database_url,
        "DICOM_RESOLVER_MIGRATE_ON_START": "true",
    })
    return env
