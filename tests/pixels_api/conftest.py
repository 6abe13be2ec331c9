"""The pixel endpoint end to end: the app (Flask test client) → google-auth service-account
flow → the Healthcare API emulator on loopback → .dcm files written by pydicom.

Datasets live in one session-wide folder; each test gets a fresh emulator over it (clean
request log and faults) and an app on its own SQLite store with every dump ingested.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pydicom
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydicom.data import get_testdata_file
from pydicom.dataset import FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from service import create_app
from service.bulkdata.client import BulkDataClient
from service.emulator.keys import ServiceAccount
from service.emulator.server import Emulator
from service.examples.factory import StudySpec, make_study, to_google_json, write_dicom_files
from service.ingest import ingest_bytes
from service.settings import Settings

ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"
# Per-frame (slope, intercept) of the enhanced CT: every frame its own rescale.
FRAME_RESCALES = ((1.0, -1024.0), (2.0, -1000.0), (0.5, -10.0))


@dataclass
class Corpus:
    """The .dcm files the emulator serves, by role, and the dump the store ingests."""

    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    dump: list[dict[str, Any]] = field(default_factory=list)

    def dataset(self, role: str) -> pydicom.Dataset:
        """The file as pydicom reads it: the oracle."""
        return pydicom.dcmread(self.files[role])

    def uids(self, role: str) -> tuple[str, str, str]:
        ds = pydicom.dcmread(self.files[role], stop_before_pixels=True)
        return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)

    def url(self, role: str, **query: str) -> str:
        study, series, sop = self.uids(role)
        path = f"/v1/studies/{study}/series/{series}/instances/{sop}/pixels"
        return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def enhanced_ct(folder: Path) -> Path:
    """A 3-frame Enhanced CT whose frames carry different rescales and positions."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 3000, size=(3, 16, 16), dtype=np.int16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ENHANCED_CT
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = ENHANCED_CT, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "CT"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 16, 16, 3
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    shared = pydicom.Dataset()
    measures, orientation = pydicom.Dataset(), pydicom.Dataset()
    measures.PixelSpacing = [0.75, 0.8]
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orientation])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for index, (slope, intercept) in enumerate(FRAME_RESCALES):
        item, transform, position = pydicom.Dataset(), pydicom.Dataset(), pydicom.Dataset()
        transform.RescaleSlope, transform.RescaleIntercept = slope, intercept
        transform.RescaleType = "HU"
        position.ImagePositionPatient = [-6.0, -6.0, 10.5 * index]
        item.PixelValueTransformationSequence = Sequence([transform])
        item.PlanePositionSequence = Sequence([position])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = pixels.tobytes()
    path = folder / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    folder = tmp_path_factory.mktemp("dicom-store")
    found = Corpus(folder)
    study = make_study(StudySpec(n_slices=4, rows=64, columns=64))
    halves = make_study(StudySpec(seed=7, n_slices=1, rows=64, columns=64, rescale_slope=0.5,
                                  rescale_intercept=-1024.5, with_report=False))
    paths = write_dicom_files([*study, *halves], folder)
    found.files.update(zip(["report", "ct1", "ct2", "ct3", "ct4", "half"], paths, strict=True))
    for role, name in (("rle", "MR_small_RLE.dcm"), ("j2k", "JPEG2000.dcm")):
        found.files[role] = folder / name
        shutil.copyfile(get_testdata_file(name), found.files[role])
    found.files["enhanced"] = enhanced_ct(folder)
    found.dump = [to_google_json(pydicom.dcmread(path, stop_before_pixels=False))
                  for path in found.files.values()]
    return found


@pytest.fixture(scope="session")
def account() -> ServiceAccount:
    return ServiceAccount.generate("demo-project")


@pytest.fixture
def emulator(corpus: Corpus, account: ServiceAccount) -> Iterator[Emulator]:
    with Emulator(corpus.folder, account=account) as running:
        yield running


@pytest.fixture
def make_settings(emulator: Emulator, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path / 'store.sqlite3'}",
            "healthcare_api_root": emulator.api_root, "upstream_max_retries": 3,
            "upstream_retry_budget_seconds": 5.0, "upstream_connect_timeout": 2.0,
            "upstream_read_timeout": 5.0}
        values.update(overrides)
        return Settings.load(environ={}, **values)

    return make


@pytest.fixture
def adc_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Application Default Credentials = the emulator's key file, and nothing else to find."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(emulator.key_file))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    return emulator.key_file


@pytest.fixture
def make_app(make_settings, corpus: Corpus):  # type: ignore[no-untyped-def]
    """An app over a fresh store holding every dump, with an injected fast-retry client."""
    apps: list[Flask] = []
    clients: list[BulkDataClient] = []

    def make(dump: list[dict[str, Any]] | None = None, *, credentials: Any = None,
             **overrides: Any) -> Flask:
        settings = make_settings(**overrides)
        client = BulkDataClient(settings, credentials=credentials, backoff_base=0.01,
                                backoff_max=0.05)
        clients.append(client)
        app = create_app(settings, bulkdata=client)
        apps.append(app)
        ingest_bytes(app.extensions["engine"], orjson.dumps(corpus.dump if dump is None
                                                            else dump))
        return app

    yield make
    for client in clients:
        client.close()
    for app in apps:
        app.extensions["engine"].dispose()


@pytest.fixture
def app(make_app, adc_env: Path) -> Flask:  # type: ignore[no-untyped-def]
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def pixel_requests(emulator: Emulator, sop_uid: str) -> list[str]:
    """Paths of the DICOMweb requests the emulator received for one instance."""
    return [r.path for r in emulator.requests if f"/instances/{sop_uid}/" in r.path]


def hu_oracle(ds: pydicom.Dataset) -> np.ndarray:
    """pydicom's stored values × RescaleSlope + RescaleIntercept, in float64."""
    slope = float(ds.get("RescaleSlope", 1.0))
    intercept = float(ds.get("RescaleIntercept", 0.0))
    return ds.pixel_array.astype(np.float64) * slope + intercept


@pytest.fixture
def upstream_log():  # type: ignore[no-untyped-def]
    return pixel_requests


@pytest.fixture
def oracle():  # type: ignore[no-untyped-def]
    return hu_oracle
