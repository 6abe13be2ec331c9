"""The service under gunicorn, as a real process on a loopback port (a free, non-default one).

wait_healthy and stop_process are shared by every test that starts the service as a
process (here, tests/production's `dicom-resolver serve`, tests/imports' replicas).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from dicom_resolver_testing.stack import free_port


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60) -> bool:
    """Whether `url`/healthz answered 200 within `timeout` while `process` was running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                return True
        except requests.RequestException:
            time.sleep(0.2)
    return False


def stop_process(process: subprocess.Popen, timeout: float) -> int:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`; its exit status."""
    if process.returncode is not None:
        return process.returncode
    process.terminate()
    try:
        return process.wait(timeout=timeout)
    finally:
        if process.returncode is None:
            process.kill()
            process.wait()


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
        if not wait_healthy(self.url, self.process):
            self.stop()
            raise RuntimeError("gunicorn did not start")

    def stop(self) -> int:
        return stop_process(self.process, timeout=15)

    @property
    def stderr(self) -> str:
        return self.log_path.read_text(errors="replace")
