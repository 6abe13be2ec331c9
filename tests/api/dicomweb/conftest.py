"""The service as a real HTTP server (werkzeug, loopback, free port) over a SQLite store,
with the Healthcare API emulator behind it for pixels, driven by dicomweb-client.

Corpus: a CT study (report + 4 slices) and a second patient's MR-like study written
by the example factory, three pydicom test files (native and RLE multi-frame RT Dose,
JPEG 2000 MR) with fresh UIDs, and 30 JSON-only studies for searching and paging.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import pytest
from dicomweb_client import DICOMwebClient
from flask import Flask

from service.emulator.server import Emulator
from service.examples.factory import (
    StudySpec,
    make_studies,
    make_study,
    to_google_json,
    write_dicom_files,
)
from service.settings import Settings
from tests.support.dcm_files import copy_with_new_uids
from tests.support.emulated import close_app, emulated_app, emulator_credentials, new_account
from tests.support.net import serving

MAX_LIMIT = 7  # small, so that paging across the cap is exercised with few studies
DEFAULT_LIMIT = 5
ORIGIN = "https://viewer.example"


@dataclass
class Corpus:
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    dump: list[dict[str, Any]] = field(default_factory=list)  # instances with files
    studies: list[list[dict[str, Any]]] = field(default_factory=list)  # JSON-only studies

    def dataset(self, role: str) -> pydicom.Dataset:
        return pydicom.dcmread(self.files[role])

    def uids(self, role: str) -> tuple[str, str, str]:
        ds = pydicom.dcmread(self.files[role], stop_before_pixels=True)
        return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)

    def all_instances(self) -> list[dict[str, Any]]:
        return self.dump + [instance for study in self.studies for instance in study]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    folder = tmp_path_factory.mktemp("dicomweb-store")
    found = Corpus(folder)
    study = make_study(StudySpec(n_slices=4, rows=32, columns=32))
    other = make_study(StudySpec(seed=11, n_slices=2, rows=32, columns=32,
                                 patient_name="MÜLLER^ANNA^^MS.", patient_id="PAT-MUELLER",
                                 study_date="20230105", accession_number="acc-lower",
                                 with_report=False))
    paths = write_dicom_files([*study, *other], folder)
    found.files.update(zip(["report", "ct1", "ct2", "ct3", "ct4", "other1", "other2"], paths,
                           strict=True))
    for role, name in (("dose", "rtdose.dcm"), ("dose_rle", "rtdose_rle.dcm"),
                       ("j2k", "MR_small_jp2klossless.dcm")):
        found.files[role] = copy_with_new_uids(name, folder)
    found.dump = [to_google_json(pydicom.dcmread(path)) for path in found.files.values()]
    found.studies = make_studies(30, seed=3)
    return found


@dataclass
class Server:
    url: str
    app: Flask
    emulator: Emulator

    @property
    def dicomweb(self) -> str:
        return self.url + "/dicomweb"


@pytest.fixture(scope="session")
def emulator(corpus: Corpus) -> Iterator[Emulator]:
    with Emulator(corpus.folder, account=new_account()) as running:
        yield running


def make_app(emulator: Emulator, database: Path, *,
             dumps: Iterable[list[dict[str, Any]]] = (), **overrides: Any) -> Flask:
    """The service over a new store at `database` holding `dumps`, pixels from `emulator`."""
    settings = Settings.load(
        environ={}, database_url=f"sqlite:///{database}", healthcare_api_root=emulator.api_root,
        qido_max_limit=MAX_LIMIT, qido_default_limit=DEFAULT_LIMIT,
        dicomweb_cors_origins=(ORIGIN,), upstream_max_retries=2,
        # No public_base_url: dicomweb-client sends Host without the port, and the URLs the
        # service writes must still carry the one it listens on.
        upstream_retry_budget_seconds=5.0, **overrides)
    return emulated_app(settings, credentials=emulator_credentials(emulator), dumps=dumps)


@contextmanager
def served(app: Flask, emulator: Emulator) -> Iterator[Server]:
    """Serve `app` on a free loopback port; close it after."""
    try:
        with serving(app) as server:
            yield Server(f"http://127.0.0.1:{server.server_port}", app, emulator)
    finally:
        close_app(app)


@pytest.fixture(scope="session")
def server(corpus: Corpus, emulator: Emulator,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    app = make_app(emulator, tmp_path_factory.mktemp("db") / "store.sqlite3",
                   dumps=[corpus.dump, *corpus.studies])
    with served(app, emulator) as running:
        yield running


@pytest.fixture
def dwc(server: Server) -> DICOMwebClient:
    return DICOMwebClient(url=server.dicomweb)
