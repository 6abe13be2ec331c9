"""The service as real processes on loopback ports: `dicom-resolver serve` (gunicorn) as
deployed, or plain gunicorn on `service:create_app()`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.support.emulated import close_app, new_account, use_emulator_adc
from tests.support.gunicorn import GunicornServer, ServiceProcess


@pytest.fixture
def services(tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    """A list the test appends started services to; all are stopped at the end."""
    started: list[ServiceProcess] = []
    yield started
    for service in started:
        service.stop()


@pytest.fixture
def gunicorn_server(tmp_path: Path) -> Iterator[GunicornServer]:
    server = GunicornServer(f"sqlite:///{tmp_path / 'store.sqlite3'}", tmp_path / "gunicorn.log")
    yield server
    server.stop()


class PixelStudy:
    """A small CT study written as .dcm files and served by the Healthcare API emulator."""

    def __init__(self, folder: Path) -> None:
        from service.examples.factory import StudySpec, make_study, write_dicom_files

        self.datasets = [ds for ds in make_study(StudySpec(seed=31, n_slices=3, rows=32,
                                                           columns=32, with_report=False))]
        write_dicom_files(self.datasets, folder)
        self.folder = folder

    def pixels_url(self, index: int, fmt: str = "npy") -> str:
        ds = self.datasets[index]
        return (f"/v1/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
                f"/instances/{ds.SOPInstanceUID}/pixels?format={fmt}")


@pytest.fixture(scope="session")
def pixel_study(tmp_path_factory: pytest.TempPathFactory) -> PixelStudy:
    return PixelStudy(tmp_path_factory.mktemp("pixel-study"))


@pytest.fixture
def emulator(pixel_study: PixelStudy, monkeypatch: pytest.MonkeyPatch,
             tmp_path: Path) -> Iterator[Any]:
    """The emulator on loopback, and Application Default Credentials pointing at it."""
    from service.emulator.server import Emulator

    with Emulator(pixel_study.folder, account=new_account()) as running:
        use_emulator_adc(monkeypatch, running, tmp_path / "gcloud")
        yield running


@pytest.fixture
def pixel_app(emulator: Any, pixel_study: PixelStudy,
              database_url: str) -> Iterator[Callable[..., Flask]]:
    """Factory of apps over a store holding the pixel study, fetching from the emulator."""
    import orjson

    from service import create_app
    from service.examples.factory import make_dump
    from service.settings import Settings
    from service.usecases.ingest import ingest_bytes

    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        settings = Settings.load(environ={}, **{
            "database_url": database_url, "migrate_on_start": True,
            "healthcare_api_root": emulator.api_root, "upstream_max_retries": 1,
            "upstream_retry_budget_seconds": 5.0, **overrides})
        app = create_app(settings)
        apps.append(app)
        ingest_bytes(app.extensions["engine"], orjson.dumps(make_dump(pixel_study.datasets)))
        return app

    yield make
    for app in apps:
        close_app(app)
