"""The service under gunicorn, as a real process on a loopback port (a free, non-default one):
`dicom-resolver serve` (ServiceProcess, serve) as deployed, or plain gunicorn on
`service:create_app()` (GunicornServer).

Shared by every test that starts the service as a process: tests/production, tests/cli's
`serve`, tests/api/imports' replicas and tests/api/dicomweb.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from dicom_resolver_testing.stack import free_port

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("dicom-resolver"))


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


class ServiceProcess:
    """One gunicorn master started by `argv` (in the repository by default, so that its
    gunicorn.conf.py applies), in a session of its own so that kill() reaches its workers.

    The child's environment is this one without DICOM_RESOLVER_* settings, plus `env`. Its
    stderr (gunicorn's error log, the JSON logs and the access log) goes to a file the
    test can read. `wait_ready` polls /healthz.
    """

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path,
                 port: int, cwd: Path = REPO, *, append_log: bool = False) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        child_env = {key: value for key, value in os.environ.items()
                     if not key.startswith("DICOM_RESOLVER_")}
        child_env.update(env)
        with log_path.open("ab" if append_log else "wb") as log:
            self.process = subprocess.Popen(argv, env=child_env, cwd=cwd,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> ServiceProcess:
        if wait_healthy(self.url, self.process, timeout):
            return self
        self.stop()
        raise RuntimeError(f"the service did not start:\n{self.log}")

    def stop(self) -> int:
        return stop_process(self.process, timeout=30)

    def kill(self) -> None:
        """SIGKILL to the master and its workers: nothing gets to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def serve_argv(port: int, workers: int) -> list[str]:
    """`dicom-resolver serve` on 127.0.0.1:`port`, not in demo mode."""
    return [CLI, "serve", "--no-demo", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]


def serve(database_url: str, log_path: Path, *, workers: int = 2,
          **env: str) -> ServiceProcess:
    """`dicom-resolver serve` on a free loopback port, not in demo mode, ready."""
    port = free_port()
    environment = {"DICOM_RESOLVER_DATABASE_URL": database_url, **env}
    return ServiceProcess(serve_argv(port, workers), environment, log_path, port).wait_ready()


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
