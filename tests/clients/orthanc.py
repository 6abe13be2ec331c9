"""A throwaway Orthanc (Debian's `orthanc` and `orthanc-dicomweb`) for one test.

Its own configuration, storage and index folders in a temporary directory, a free HTTP
port, and the service registered as a DICOMweb server. Orthanc 1.10 cannot choose the
address it binds (0.0.0.0), so it is locked down instead: RemoteAccessAllowed false (it
answers loopback clients only), no DICOM listener at all (DicomServerEnabled false: the
test talks to it over REST), no authentication needed from loopback.
"""

from __future__ import annotations

import ctypes
import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from dicom_resolver_testing.stack import free_port

ORTHANC_BINARIES = ("Orthanc", "/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
MISSING = ("Orthanc or its DICOMweb plugin is not installed (apt-get install orthanc "
           "orthanc-dicomweb); CI installs them")
SERVER_NAME = "resolver"  # the service's name among Orthanc's DICOMweb servers
START_TIMEOUT = 30.0
PR_SET_PDEATHSIG = 1  # prctl(2)


def orthanc_binary() -> str | None:
    """Orthanc's executable when it and the DICOMweb plugin are installed, else None."""
    found = next((path for name in ORTHANC_BINARIES if (path := shutil.which(name))), None)
    return found if found and DICOMWEB_PLUGIN.is_file() else None


def orthanc_config(folder: Path, http_port: int, dicomweb_root: str) -> dict[str, Any]:
    return {
        "Name": "dicom-resolver-test",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": False,
        "Plugins": [str(DICOMWEB_PLUGIN)],
        "HttpTimeout": 60,
        "SaveJobs": False,
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False,
                     "Servers": {SERVER_NAME: [dicomweb_root]}},
    }


@dataclass
class Orthanc:
    url: str
    log_file: Path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=120, **kwargs)

    def post(self, path: str, body: Any) -> requests.Response:
        return requests.post(f"{self.url}{path}", json=body, timeout=300)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")


@contextmanager
def running_orthanc(binary: str, folder: Path, dicomweb_root: str) -> Iterator[Orthanc]:
    """Orthanc with `dicomweb_root` as its DICOMweb server SERVER_NAME, stopped at the end."""
    port = free_port()
    config = folder / "orthanc.json"
    config.write_text(json.dumps(orthanc_config(folder, port, dicomweb_root), indent=2))
    log_file = folder / "orthanc.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen([binary, "--verbose", str(config)], stdout=log,
                                   stderr=subprocess.STDOUT, cwd=folder,
                                   preexec_fn=_die_with_parent)
    orthanc = Orthanc(f"http://127.0.0.1:{port}", log_file)
    try:
        _wait_until_up(orthanc, process)
        yield orthanc
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _die_with_parent() -> None:
    """In the child before exec: Linux sends it SIGTERM if the test process dies first
    (killed pytest), so that no Orthanc outlives its test."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_until_up(orthanc: Orthanc, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited with {process.returncode}:\n{orthanc.log()}")
        try:
            if orthanc.get("/system").ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Orthanc did not answer within {START_TIMEOUT} s:\n{orthanc.log()}")
