"""The emulator and the service on loopback for a consumer's tests (used by the plugin).

`start_emulator(folder)` serves a fixture set's .dcm files through the Healthcare API
stand-in; `start_resolver(...)` runs dicom-resolver against it — in a thread of the test
process (fast) or under gunicorn in a subprocess (as deployed) — on a temporary SQLite
store, and ingests the fixture set's dumps through the API. Both stop cleanly: threads
joined, the subprocess's whole process group ended, sockets closed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from service.emulator.keys import ServiceAccount
from service.emulator.server import Emulator
from service.fixtures.layout import FixtureSet, load_fixture_set

ServerMode = Literal["thread", "gunicorn"]
SERVER_MODES: tuple[ServerMode, ...] = ("thread", "gunicorn")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class InstanceRef:
    """One loaded instance: where it is, and what it is."""

    study: str
    series: str
    sop: str
    modality: str | None


@dataclass
class RunningEmulator:
    """The Healthcare API stand-in over a fixture set (the Emulator plus what it serves)."""

    emulator: Emulator
    fixtures: FixtureSet

    @property
    def url(self) -> str:
        return self.emulator.url

    @property
    def api_root(self) -> str:
        return self.emulator.api_root

    @property
    def key_file(self) -> Path:
        """The service-account key file for GOOGLE_APPLICATION_CREDENTIALS."""
        return self.emulator.key_file

    @property
    def store_path(self) -> str:
        return self.emulator.store_path

    def stop(self) -> None:
        self.emulator.stop()


def start_emulator(folder: Path, key_dir: Path, *,
                   account_cache: Path | None = None) -> RunningEmulator:
    """The emulator over `folder`, its key file in `key_dir`. With `account_cache` (a JSON
    key file, written on first use) its RSA service account is reused across runs:
    generating one costs a good part of a second."""
    fixtures = load_fixture_set(folder)
    key_dir.mkdir(parents=True, exist_ok=True)
    account = _cached_account(account_cache) if account_cache is not None else None
    emulator = Emulator(fixtures.dicom_dir, key_file=key_dir / "service-account.json",
                        account=account).start()
    return RunningEmulator(emulator, fixtures)


def _cached_account(path: Path) -> ServiceAccount:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = orjson.loads(path.read_bytes())
        private_key = load_pem_private_key(key["private_key"].encode(), password=None)
        if isinstance(private_key, rsa.RSAPrivateKey):
            return ServiceAccount(key["project_id"], key["client_email"], key["client_id"],
                                  key["private_key_id"], private_key)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # absent or damaged: make a new one
    account = ServiceAccount.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    account.write_key_file(partial, "http://127.0.0.1/token")
    partial.replace(path)
    return account


def loaded_instances(dumps: dict[str, bytes]) -> list[InstanceRef]:
    """The instances of the dumps, from their DICOM JSON."""
    refs = []
    for dump in dumps.values():
        for item in orjson.loads(dump):
            refs.append(InstanceRef(_value(item, "0020000D"), _value(item, "0020000E"),
                                    _value(item, "00080018"), _value(item, "00080060") or None))
    return refs


def _value(item: dict[str, Any], tag: str) -> str:
    values = item.get(tag, {}).get("Value") or [""]
    return str(values[0])


@dataclass
class DicomResolver:
    """dicom-resolver on loopback, its store holding the fixture studies.

    `url`, a ready `client` (dicom_resolver_client.Client), and what was loaded:
    `study_uids`, `series_uids`, `instances`. `reset()` empties the store and loads the
    fixture studies again (what the function-scoped fixture does between tests).
    """

    url: str
    mode: ServerMode
    emulator: RunningEmulator
    client: Any
    instances: list[InstanceRef] = field(default_factory=list)
    _stop: Any = None
    pid: int | None = None  # of the gunicorn master (subprocess mode)

    @property
    def study_uids(self) -> list[str]:
        return sorted({ref.study for ref in self.instances})

    @property
    def series_uids(self) -> list[str]:
        return sorted({ref.series for ref in self.instances})

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def load(self) -> None:
        """Ingest every dump of the fixture set (idempotent)."""
        for dump in self.emulator.fixtures.dumps.values():
            self.client.ingest(dump)
        self.instances = loaded_instances(self.emulator.fixtures.dumps)

    def reset(self) -> None:
        """Delete every study in the store, then load the fixture studies again."""
        for uid in [study["StudyInstanceUID"] for study in self.client.search_studies()]:
            self.client.delete_study(uid)
        self.load()

    def stop(self) -> None:
        self.client.close()
        if self._stop is not None:
            self._stop()
            self._stop = None


def start_resolver(emulator: RunningEmulator, workdir: Path, *,
                   mode: ServerMode = "thread") -> DicomResolver:
    """The service on a fresh SQLite store under `workdir`, fixtures ingested."""
    from dicom_resolver_client import Client

    if mode not in SERVER_MODES:
        raise ValueError(f"server mode must be one of {', '.join(SERVER_MODES)}, got {mode!r}")
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{workdir / 'store.sqlite3'}"
    if mode == "thread":
        url, stop, pid = (*_serve_in_thread(emulator, database_url), None)
    else:
        url, stop, pid = _serve_under_gunicorn(emulator, database_url, workdir)
    resolver = DicomResolver(url, mode, emulator, Client(url), _stop=stop, pid=pid)
    try:
        resolver.load()
    except BaseException:
        resolver.stop()
        raise
    return resolver


def _serve_in_thread(emulator: RunningEmulator, database_url: str) -> tuple[str, Any]:
    from google.oauth2 import service_account
    from werkzeug.serving import make_server

    from service import create_app
    from service.bulkdata.client import BulkDataClient
    from service.bulkdata.credentials import HEALTHCARE_SCOPE
    from service.settings import Settings

    settings = Settings.load(environ={}, database_url=database_url,
                             healthcare_api_root=emulator.api_root, log_level="WARNING")
    credentials = service_account.Credentials.from_service_account_file(
        str(emulator.key_file), scopes=[HEALTHCARE_SCOPE])
    app = create_app(settings, bulkdata=lambda cache: BulkDataClient(
        settings, cache=cache, credentials=credentials))
    bulkdata = app.extensions["bulkdata"]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="dicom-resolver", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(STOP_TIMEOUT)
        server.server_close()
        bulkdata.close()
        app.extensions["engine"].dispose()

    return f"http://127.0.0.1:{server.server_port}", stop


def free_port() -> int:
    """A loopback port nothing listens on right now, for servers that must know theirs up
    front (the repository's tests and benchmarks use this one too)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve_under_gunicorn(emulator: RunningEmulator, database_url: str,
                          workdir: Path) -> tuple[str, Any, int]:
    port = free_port()
    # The caller's own DICOM_RESOLVER_* settings (auth, Redis, a store…) stay out: the
    # fixture's service is configured here alone, as the thread mode's is.
    env = {**{name: value for name, value in os.environ.items()
              if not name.startswith("DICOM_RESOLVER_")},
           "DICOM_RESOLVER_DATABASE_URL": database_url,
           "DICOM_RESOLVER_HEALTHCARE_API_ROOT": emulator.api_root,
           "GOOGLE_APPLICATION_CREDENTIALS": str(emulator.key_file),
           "DICOM_RESOLVER_LOG_LEVEL": "WARNING",
           "NO_GCE_CHECK": "True"}
    log = (workdir / "gunicorn.log").open("ab")
    # cwd: a gunicorn.conf.py of the consumer's project must not reconfigure this server.
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from service.cli import main; sys.exit(main())",
         "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-demo"],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True)

    def stop() -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)
        _kill_group(process.pid)
        log.close()

    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, workdir / "gunicorn.log")
    except BaseException:
        stop()
        raise
    return url, stop, process.pid


def _kill_group(pgid: int) -> None:
    """Workers left behind by a master that died hard (they share its process group)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    import requests

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dicom-resolver exited with status {process.returncode}; "
                               f"see {log_path}")
        try:
            if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"dicom-resolver did not become ready in {START_TIMEOUT:.0f} s; "
                       f"see {log_path}")
