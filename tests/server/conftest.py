"""The service under gunicorn, as a real process on a loopback port."""

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GunicornServer:
    def __init__(self, database_url: str, log_path: Path, workers: int = 3, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        child_env = {**os.environ, "DICOM_RESOLVER_DATABASE_URL": database_url, **env}
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [gunicorn, "--workers", str(workers), "--threads", "4", "--bind",
                 f"127.0.0.1:{self.port}", "--graceful-timeout", "5", "service:create_app()"],
                env=child_env, stdout=subprocess.DEVNULL, stderr=log)
        self.log_path = log_path
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> int:
        if self.process.returncode is not None:
            return self.process.returncode
        self.process.terminate()
        try:
            return self.process.wait(timeout=15)
        finally:
            if self.process.returncode is None:
                self.process.kill()
                self.process.wait()

    @property
    def stderr(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def gunicorn_server(tmp_path: Path) -> Iterator[GunicornServer]:
    server = GunicornServer(f"sqlite:///{tmp_path / 'store.sqlite3'}", tmp_path / "gunicorn.log")
    yield server
    server.stop()
