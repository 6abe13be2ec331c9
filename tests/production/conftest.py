"""The service as real processes: `dicom-resolver serve` (gunicorn) on loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("dicom-resolver"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """One gunicorn master started by `argv` in the repository (so gunicorn.conf.py applies).

    Its stderr (gunicorn's error log, the JSON logs and the access log) goes to a file the
    test can read. `wait_ready` polls /healthz.
    """

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path,
                 port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        child_env = {key: value for key, value in os.environ.items()
                     if not key.startswith("DICOM_RESOLVER_")}
        child_env.update(env)
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(argv, env=child_env, cwd=REPO,
                                            stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> ServiceProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the service did not start:\n{self.log}")

    def stop(self) -> int:
        if self.process.returncode is not None:
            return self.process.returncode
        self.process.terminate()
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.returncode is None:
                self.process.kill()
                self.process.wait()

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
