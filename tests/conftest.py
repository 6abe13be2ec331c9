"""Shared fixtures: an app on a temporary store and its client.

The store is SQLite in the test's temporary directory, or a fresh PostgreSQL schema
when DICOM_RESOLVER_TEST_DATABASE_URL names a server (tests/support/database.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from service import create_app
from service.settings import Settings
from tests.support.database import (
    NO_POSTGRES,
    fresh_schema,
    postgres_server_url,
    temporary_store_url,
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of a fresh, empty schema on the test PostgreSQL server; skips without one."""
    server_url = postgres_server_url()
    if not server_url:
        pytest.skip(NO_POSTGRES)
    yield from fresh_schema(server_url)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """The store of the test: PostgreSQL when configured, else SQLite in tmp_path."""
    yield from temporary_store_url(tmp_path)


@pytest.fixture(scope="module")
def module_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """database_url for a module's shared app: PostgreSQL when configured, else SQLite."""
    yield from temporary_store_url(tmp_path_factory.mktemp("store"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings.load(environ={}, database_url=database_url, migrate_on_start=True)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings)
    yield application
    application.extensions["engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def engine(app: Flask) -> Engine:
    return app.extensions["engine"]

