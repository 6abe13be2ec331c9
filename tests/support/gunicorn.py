"""The service under gunicorn, as a real process on a loopback port (a free, non-default one)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.net import free_port


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
