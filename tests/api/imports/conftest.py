"""Fixtures: a stand-in DICOM store of several studies, apps importing from it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from google.auth.transport.requests import AuthorizedSession

from service.emulator.server import Emulator
from tests.support.emulated import app_maker, emulator_credentials
from tests.support.google_store import importing_settings, stand_in_fixtures

account, store_folder, stand_in, studies, service_env = stand_in_fixtures()


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
