"""`Emulator`: the local Healthcare API stand-in as a real threaded HTTP server.

    with Emulator(data_dir) as emulator:
        credentials = service_account.Credentials.from_service_account_file(
            emulator.key_file, scopes=[HEALTHCARE_SCOPE])
        settings = Settings.load(healthcare_api_root=emulator.api_root)

Every request runs in its own thread (werkzeug's threaded server), so
concurrent clients are served concurrently.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from service.dicom import tags
from service.emulator.app import GOOGLE_ROOT, EmulatorApp, RecordedRequest
from service.emulator.dicomstore import DicomFolder, InstanceKey
from service.emulator.faults import Fault
from service.emulator.keys import ServiceAccount
from service.emulator.pubsub import CERTS_PATH, Notifier

log = logging.getLogger(__name__)

DEFAULT_STORE_PATH = ("projects/demo-project/locations/us-central1/datasets/demo-dataset/"
                      "dicomStores/demo-store")


class _Handler(WSGIRequestHandler):
    """Request lines go to our logger at debug instead of werkzeug's stderr handler."""

    # Keep-alive, as Google's front ends do: a new TCP connection per slice would make
    # the stand-in, not the service, the cost of every benchmark.
    protocol_version = "HTTP/1.1"

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        log.debug("%s %s -> %s", self.command, self.path.split("?", 1)[0], code)

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 (werkzeug's name)
        log.debug(message, *args)


class Emulator:
    """Token endpoint + DICOMweb bulk data/frames for the .dcm files under `data_dir`."""

    def __init__(self, data_dir: str | Path, host: str = "127.0.0.1", port: int = 0, *,
                 key_file: str | Path | None = None, store_path: str = DEFAULT_STORE_PATH,
                 latency_ms: float = 0, token_lifetime: int = 3600,
                 account: ServiceAccount | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.store_path = store_path.strip("/")
        self._key_file = Path(key_file) if key_file else None
        self._latency = latency_ms / 1000.0
        self._token_lifetime = token_lifetime
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._tempdir: str | None = None
        self._app: EmulatorApp | None = None
        # A given account skips RSA key generation (tests share one across emulators).
        self._account = account
        self._rescan_lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        project = self.store_path.split("/")[1] if self.store_path.startswith("projects/") \
            else "demo-project"
        account = self._account or ServiceAccount.generate(project)
        self._app = EmulatorApp(DicomFolder(self.data_dir), account, self.store_path,
                                token_lifetime=self._token_lifetime, latency=self._latency)
        self._server = make_server(self.host, self.port, self._app, threaded=True,
                                   request_handler=_Handler)
        self.port = self._server.server_port
        self._app.token_uri = f"{self.url}/token"
        if self._key_file is None:
            self._tempdir = tempfile.mkdtemp(prefix="dicom-resolver-emulator-")
            self._key_file = Path(self._tempdir) / "service-account.json"
        account.write_key_file(self._key_file, self._app.token_uri)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="healthcare-emulator", daemon=True)
        self._thread.start()
        log.info("Healthcare API emulator on %s serving %d instances", self.url,
                 len(self._app.folder))
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None
            self._key_file = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what clients need --------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_root(self) -> str:
        """Value for Settings.healthcare_api_root (DICOM_RESOLVER_HEALTHCARE_API_ROOT)."""
        return self.url

    @property
    def key_file(self) -> Path:
        if self._key_file is None:
            raise RuntimeError("the emulator is not started")
        return self._key_file

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def instance_url(self, study_uid: str, series_uid: str, sop_uid: str, *,
                     google: bool = True) -> str:
        """An instance's DICOMweb URL, as Google writes it (default) or on the emulator."""
        root = GOOGLE_ROOT if google else self.url
        return (f"{root}/v1/{self.store_path}/dicomWeb/studies/{study_uid}/series/{series_uid}"
                f"/instances/{sop_uid}")

    def bulkdata_uri(self, study_uid: str, series_uid: str, sop_uid: str,
                     tag: str = tags.PIXEL_DATA, *, google: bool = True) -> str:
        return f"{self.instance_url(study_uid, series_uid, sop_uid, google=google)}/bulkdata/{tag}"

    # -- observation and fault injection ------------------------------------------------------

    @property
    def token_requests(self) -> int:
        return self._require_app().token_requests

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._require_app().requests)

    def clear_log(self) -> None:
        app = self._require_app()
        app.requests.clear()

    def inject(self, path_substring: str | None = None, status: int | None = 429,
               retry_after: int | str | None = None, count: int = 1, delay: float = 0,
               truncate: bool = False, content_type: str | None = None,
               body: bytes | None = None, *, gzip: bool = False,
               location: str | None = None) -> Fault:
        """Plan a fault for the next `count` matching requests (see service.emulator.faults)."""
        return self._require_app().faults.add(Fault(
            path_substring=path_substring, status=status, retry_after=retry_after, count=count,
            delay=delay, truncate=truncate, content_type=content_type, body=body, gzip=gzip,
            location=location))

    def clear_faults(self) -> None:
        self._require_app().faults.clear()

    # -- study searches and Pub/Sub push (study_routes.py, pubsub.py) --------------------

    def cap_qido_results(self, cap: int | None) -> None:
        """Answer at most `cap` matches per search page (Google: 5000 studies), to test paging."""
        self._require_app().qido_cap = cap

    @property
    def certs_url(self) -> str:
        """Where the certificates of the push tokens are (DICOM_RESOLVER_PUBSUB_CERTS_URL)."""
        return f"{self.url}{CERTS_PATH}"

    def subscribe(self, url: str, audience: str | None = None, **kwargs: str) -> None:
        """Push a notification to `url` for every instance added from now on."""
        self._require_app().pubsub.subscribe(url, audience, **kwargs)

    @property
    def notifier(self) -> Notifier:
        return self._require_app().pubsub

    def add_files(self, *paths: str | Path) -> list[InstanceKey]:
        """Copy .dcm files into the folder, index them and notify the subscription, as
        storing instances in a Google DICOM store does; answers the new instances."""
        for path in paths:
            shutil.copy2(path, self.data_dir / Path(path).name)
        return self.rescan()

    def rescan(self) -> list[InstanceKey]:
        """Index files added to the folder since and notify the subscription of them."""
        app = self._require_app()
        with self._rescan_lock:
            new = app.folder.reindex()
        app.pubsub.notify(new)
        return new

    def revoke_tokens(self) -> None:
        """Forget every issued token, as if they had been revoked (clients then get 401)."""
        self._require_app().revoke_tokens()

    def _require_app(self) -> EmulatorApp:
        if self._app is None:
            raise RuntimeError("the emulator is not started")
        return self._app
