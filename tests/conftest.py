"""Shared fixtures: an app on a temporary SQLite store, its client, and store snapshots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from service import create_app
from service.settings import Settings
from service.store.schema import metadata


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(environ={}, database_url=f"sqlite:///{tmp_path / 'store.sqlite3'}")


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
