"""Shared fixtures: an app on a temporary store, its client, and store snapshots.

The store is SQLite in the test's temporary directory, or, when the environment names
a PostgreSQL server in DICOM_RESOLVER_TEST_DATABASE_URL, a fresh schema of that
database made for the test and dropped after it (search_path set in the URL, so that
child processes given the URL see the same schema).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from service import create_app
from service.settings import Settings
from service.store.schema import metadata
from tests.support.database import fresh_schema as _fresh_schema

TEST_DATABASE_VARIABLE = "DICOM_RESOLVER_TEST_DATABASE_URL"
NO_POSTGRES = (f"PostgreSQL tests need {TEST_DATABASE_VARIABLE}, e.g. "
               "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of a fresh, empty schema on the test PostgreSQL server; skips without one."""
    server_url = os.environ.get(TEST_DATABASE_VARIABLE)
    if not server_url:
        pytest.skip(NO_POSTGRES)
    yield from _fresh_schema(server_url)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """The store of the test: PostgreSQL when configured, else SQLite in tmp_path."""
    server_url = os.environ.get(TEST_DATABASE_VARIABLE)
    if server_url:
        yield from _fresh_schema(server_url)
    else:
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"


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


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, to show that a failed request changed nothing."""
    with engine.connect() as connection:
        return {table.name: sorted(tuple(map(repr, row)) for row in
                                   connection.execute(select(table)))
                for table in metadata.sorted_tables}
