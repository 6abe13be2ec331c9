"""Demo mode: without Google credentials, serve the shipped example study through the emulator.

`dicom-resolver serve` calls this when nothing points at a real DICOM store
(needs_demo): the example study's .dcm files are written once into a work
folder, the Healthcare API emulator serves them on loopback, and the service
is pointed at it (a service-account key file for google-auth, and the API
root the Google BulkDataURIs of the example dump are re-rooted onto). Like
the rest of the CLI, this module stands beside the service: the service never imports it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine

from service.emulator.server import Emulator
from service.examples.factory import example_datasets, write_dicom_files
from service.examples.files import dicom_file_name
from service.examples.shipped import EXAMPLE_DUMP_PATH
from service.settings import PREFIX, Settings
from service.usecases.ingest import ingest_bytes

log = logging.getLogger(__name__)

CREDENTIALS_VARIABLE = "GOOGLE_APPLICATION_CREDENTIALS"
API_ROOT_VARIABLE = PREFIX + "HEALTHCARE_API_ROOT"
# Where `gcloud auth application-default login` leaves its credentials.
GCLOUD_ADC = Path(".config") / "gcloud" / "application_default_credentials.json"
KEY_FILE_NAME = "emulator-service-account.json"


@dataclass
class DemoHandle:
    """A running demo: the emulator, what the service needs to use it, and how to stop it."""

    emulator: Emulator
    workdir: Path
    # Environment for the service process (and its gunicorn workers).
    env: dict[str, str] = field(default_factory=dict)
    # The same, as Settings.load(**overrides) arguments.
    settings_overrides: dict[str, Any] = field(default_factory=dict)

    def ingest(self, engine: Engine) -> dict[str, Any]:
        """Ingest the example dump into the store (idempotent: a second run changes nothing)."""
        return ingest_bytes(engine, EXAMPLE_DUMP_PATH.read_bytes())

    def stop(self) -> None:
        self.emulator.stop()

    def __enter__(self) -> DemoHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def service_url(bind: str) -> str:
    """`host:port` as gunicorn binds it → the URL a browser on this machine opens."""
    host, _, port = bind.rpartition(":")
    if host in ("0.0.0.0", "", "[::]"):  # every interface: loopback is one of them
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def ready_banner(url: str, ingested: Mapping[str, Any]) -> str:
    """What the console says once the demo store is ready: where to go, and the one
    setting a browser viewer (OHIF) on another origin needs."""
    study = (ingested.get("studies") or ["the example study"])[0]
    return (
        "The example study (1 SR report + 24 CT slices) is already ingested: nothing to POST.\n"
        f"  study       {study}\n"
        f"  service     {url}\n"
        f"  explorer    {url}/\n"
        f"  DICOMweb    {url}/dicomweb   (QIDO-RS, WADO-RS, thumbnails)\n"
        "CORS is closed by default. To let a viewer on another origin (OHIF on\n"
        "http://localhost:3000, say) read the DICOMweb API, start with:\n"
        "  DICOM_RESOLVER_DICOMWEB_CORS_ORIGINS=http://localhost:3000 make run\n\n")


def needs_demo(environ: Mapping[str, str], home: Path | None = None) -> bool:
    """True when neither credentials nor an API root are configured (nor a gcloud ADC file)."""
    if environ.get(CREDENTIALS_VARIABLE) or environ.get(API_ROOT_VARIABLE):
        return False
    gcloud_dir = environ.get("CLOUDSDK_CONFIG")
    adc = Path(gcloud_dir) / GCLOUD_ADC.name if gcloud_dir else (home or Path.home()) / GCLOUD_ADC
    return not adc.is_file()


def write_example_files(folder: Path) -> int:
    """Write the example study's .dcm files unless all are there; returns how many were written."""
    names = [dicom_file_name(ds) for ds in example_datasets(with_pixels=False)]
    if all((folder / name).is_file() for name in names):
        return 0
    return len(write_dicom_files(example_datasets(), folder))


def start_demo(settings: Settings, workdir: Path, *, host: str = "127.0.0.1", port: int = 0,
               out: TextIO | None = None) -> DemoHandle:
    """Write the example files (once), start the emulator, and say so on `out` (stderr)."""
    workdir = Path(workdir)
    dicom_dir = workdir / "dicom"
    written = write_example_files(dicom_dir)
    emulator = Emulator(dicom_dir, host=host, port=port, key_file=workdir / KEY_FILE_NAME)
    emulator.start()
    handle = DemoHandle(
        emulator, workdir,
        env={CREDENTIALS_VARIABLE: str(emulator.key_file), API_ROOT_VARIABLE: emulator.api_root},
        settings_overrides={"healthcare_api_root": emulator.api_root})
    log.info("demo mode: emulator on %s (%d example files written)", emulator.url, written)
    stream = out if out is not None else sys.stderr
    stream.write(
        "\n*** DEMO MODE ***\n"
        "No Google credentials or Healthcare API root are configured, so dicom-resolver serves\n"
        f"a synthetic example study through a local Healthcare API emulator at {emulator.url}\n"
        f"(files in {dicom_dir}; store {settings.database_url.split('://', 1)[0]}).\n"
        "To use a real Google Cloud DICOM store instead, set GOOGLE_APPLICATION_CREDENTIALS to\n"
        "a service-account key file (or run `gcloud auth application-default login`) and\n"
        "ingest your dumps with `dicom-resolver ingest` or POST /v1/dumps.\n\n")
    stream.flush()
    return handle
