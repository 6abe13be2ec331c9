"""What the benchmarks share: a gunicorn server on a temporary SQLite store, stopping a
child process, running client threads, /proc readings, medians, percentiles and the
description of the machine.

Not part of the service: benchmarks start the real server as a subprocess, as
production does (gunicorn on `service:create_app()`), and talk to it over HTTP.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests

from dicom_resolver_testing.stack import free_port

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


@dataclass
class Server:
    url: str
    master_pid: int
    log_path: Path

    def worker_pids(self) -> list[int]:
        """The worker processes of the gunicorn master (its children)."""
        children = Path(f"/proc/{self.master_pid}/task/{self.master_pid}/children")
        if children.exists():
            return [int(pid) for pid in children.read_text().split()]
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.master_pid:
                    pids.append(int(stat.parent.name))
        return pids


@contextlib.contextmanager
def gunicorn(workers: int, threads: int = 1, timeout: float = 30.0,
             worker_class: str | None = None) -> Iterator[Server]:
    """gunicorn on a free loopback port with a fresh SQLite store; stopped on exit.

    The worker class is gunicorn.conf.py's unless `worker_class` names another."""
    folder = Path(tempfile.mkdtemp(prefix="dicom-resolver-bench-"))
    port = free_port()
    env = {**os.environ,
           "DICOM_RESOLVER_DATABASE_URL": f"sqlite:///{folder / 'store.sqlite3'}",
           "DICOM_RESOLVER_LOG_LEVEL": "WARNING"}
    log_path = folder / "gunicorn.log"
    command = [str(GUNICORN), "--workers", str(workers), "--threads", str(threads),
               "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--graceful-timeout", "5",
               "--log-level", "warning", "service:create_app()"]
    if worker_class:
        command[1:1] = ["--worker-class", worker_class]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    server = Server(f"http://127.0.0.1:{port}", process.pid, log_path)
    try:
        wait_ready(server.url, process, log_path, timeout)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def stop_process(process: subprocess.Popen, log: IO[bytes], timeout: float = 15) -> None:
    """Terminate a child (kill it if it lingers past `timeout` s), then close its log."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def run_threads(threads: list[threading.Thread]) -> float:
    """Start every thread, wait for all; the wall time in seconds from first start to last join."""
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def wait_ready(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    """Until `url`/readyz answers 200; the end of the log when the server exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url + "/readyz", timeout=2).ok:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready in {timeout:g} s")


def proc_status_kb(pid: int, field: str) -> int:
    """A memory field of /proc/<pid>/status (VmRSS, VmHWM…) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (writing 5 to /proc/<pid>/clear_refs), so that the
    next reading is the peak of what follows; False when not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process, in clock ticks (tells which worker served)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def machine() -> dict[str, str]:
    """nproc, CPU model, memory, Python: to write beside the figures."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, KeyError, ValueError):
        total_kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f"{total_kb / 2**20:.1f} GiB"
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return {"nproc": str(os.cpu_count()), "cpu": model, "memory": memory,
            "python": platform.python_version(), "load average at start": load}


@contextlib.contextmanager
def postgres_schema(server_url: str, keep: bool = False) -> Iterator[str]:
    """A fresh schema on the PostgreSQL server of `server_url` (search_path set in the URL
    it yields, as tests/conftest.py does), dropped with everything in it on exit unless
    `keep`."""
    import uuid

    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema))
    url = sa.make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.begin() as connection:
                connection.execute(sa.schema.DropSchema(schema, cascade=True))
        admin.dispose()
