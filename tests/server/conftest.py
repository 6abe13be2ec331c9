"""The service under gunicorn, as a real process on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gunicorn import GunicornServer


@pytest.fixture
def gunicorn_server(tmp_path: Path) -> Iterator[GunicornServer]:
    server = GunicornServer(f"sqlite:///{tmp_path / 'store.sqlite3'}", tmp_path / "gunicorn.log")
    yield server
    server.stop()
