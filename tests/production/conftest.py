"""The service as real processes: `dicom-resolver serve` (gunicorn) on loopback ports."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from dicom_resolver_testing.stack import free_port
from tests.support.gunicorn import stop_process, wait_healthy

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("dicom-resolver"))


class ServiceProcess:
    """One gunicorn master started by `argv` in the repository (so gunicorn.conf.py applies).

    Its stderr (gunicorn's error log, the JSON logs and the access log) goes to a file the
    test can read. `wait_ready` polls /healthz.
    """

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path,
                 port: int, cwd: Path = REPO) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        child_env = {key: value for key, value in os.environ.items()
                     if not key.startswith("DICOM_RESOLVER_")}
        child_env.update(env)
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(argv, env=child_env, cwd=cwd,
                                            stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> ServiceProcess:
        if wait_healthy(self.url, self.process, timeout):
            return self
        self.stop()
        raise RuntimeError(f"the service did not start:\n{self.log}")

    def stop(self) -> int:
        return stop_process(self.process, timeout=30)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def serve(database_url: str, log_path: Path, *, workers: int = 2,
          **env: str) -> ServiceProcess:
    """`dicom-resolver serve` on a free loopback port, not in demo mode, ready."""
    port = free_port()
    argv = [CLI, "serve", "--no-demo", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]
    environment = {"DICOM_RESOLVER_DATABASE_URL": database_url, **env}
    return ServiceProcess(argv, environment, log_path, port).wait_ready()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    """A list the test appends started services to; all are stopped at the end."""
    started: list[ServiceProcess] = []
    yield started
    for service in started:
        service.stop()


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
    from service.emulator.keys import ServiceAccount
    from service.emulator.server import Emulator

    with Emulator(pixel_study.folder, account=ServiceAccount.generate("demo-project")) as running:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(running.key_file))
        monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
        monkeypatch.setenv("NO_GCE_CHECK", "True")
        yield running


@pytest.fixture
def pixel_app(emulator: Any, pixel_study: PixelStudy,
              database_url: str) -> Iterator[Callable[..., Flask]]:
    """Factory of apps over a store holding the pixel study, fetching from the emulator."""
    import orjson

    from service import create_app
    from service.examples.factory import make_dump
    from service.ingest import ingest_bytes
    from service.settings import Settings

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
        app.extensions["bulkdata"].close()
        app.extensions["engine"].dispose()
