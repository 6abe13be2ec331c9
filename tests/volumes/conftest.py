"""Series volumes end to end: the app (Flask test client) → google-auth service-account flow →
the Healthcare API emulator on loopback → .dcm files written by pydicom.

One session-wide folder holds a small series for each geometric variant (shuffled numbers,
reversed scan, oblique, gaps, duplicates, localizer, per-slice rescales, a multi-frame
Enhanced CT); each test gets a fresh emulator over it and an app on its own SQLite store.
The oracle reads the same files with pydicom and orders them with numpy.
"""

from __future__ import annotations

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
SIZE = 32
# Small CT series, one per variant; seeds keep every UID apart.
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "shuffled": {"shuffle_instance_numbers": True},
    "reversed": {"reverse_scan_direction": True, "shuffle_instance_numbers": True},
    "oblique": {"oblique_degrees": 20.0, "shuffle_instance_numbers": True},
    "gaps": {"missing_slices": (3,)},
    "duplicates": {"duplicate_positions": (2,)},
    "localizer": {"localizer": True},
    "vary": {"vary_rescale": True, "shuffle_instance_numbers": True},
    "halves": {"rescale_slope": 0.5, "rescale_intercept": -1024.5},
}


@dataclass
class Series:
    """One series of the corpus: its files, read back by pydicom (the oracle)."""

    name: str
    paths: list[Path] = field(default_factory=list)

    def datasets(self) -> list[pydicom.Dataset]:
        return [pydicom.dcmread(path) for path in self.paths]

    @property
    def uids(self) -> tuple[str, str]:
        ds = pydicom.dcmread(self.paths[0], stop_before_pixels=True)
        return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)

    def url(self, what: str = "volume", **query: str) -> str:
        study, series = self.uids
        path = f"/v1/studies/{study}/series/{series}/{what}"
        return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@dataclass
class Corpus:
    folder: Path
    series: dict[str, Series] = field(default_factory=dict)
    dump: list[dict[str, Any]] = field(default_factory=list)


def enhanced_ct(folder: Path, frames: int = 5) -> Path:
    """An Enhanced CT whose frames are stored out of order along z, each with its rescale."""
    rng = np.random.default_rng(11)
    pixels = rng.integers(0, 3000, size=(frames, 16, 16), dtype=np.int16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ENHANCED_CT
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = ENHANCED_CT, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.Modality = "CT"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 16, 16, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    shared, measures, orientation = pydicom.Dataset(), pydicom.Dataset(), pydicom.Dataset()
    measures.PixelSpacing = [0.75, 0.8]
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orientation])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    order = [3, 0, 4, 1, 2]  # the z index of each stored frame
    items = []
    for index in range(frames):
        item, transform, position = pydicom.Dataset(), pydicom.Dataset(), pydicom.Dataset()
        transform.RescaleSlope, transform.RescaleIntercept = (1.0, -1024.0) if index % 2 \
            else (2.0, -1000.0)
        transform.RescaleType = "HU"
        position.ImagePositionPatient = [-6.0, -6.0, 2.5 * order[index]]
        item.PixelValueTransformationSequence = Sequence([transform])
        item.PlanePositionSequence = Sequence([position])
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(items)
    ds.PixelData = pixels.tobytes()
    path = folder / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    folder = tmp_path_factory.mktemp("volume-store")
    found = Corpus(folder)
    for seed, (name, variant) in enumerate(VARIANTS.items(), start=100):
        spec = StudySpec(seed=seed, n_slices=8, rows=SIZE, columns=SIZE, with_report=False,
                         **variant)
        found.series[name] = Series(name, write_dicom_files(make_study(spec), folder))
    found.series["enhanced"] = Series("enhanced", [enhanced_ct(folder)])
    found.dump = [to_google_json(pydicom.dcmread(path))
                  for series in found.series.values() for path in series.paths]
    return found


@pytest.fixture(scope="session")
def account() -> ServiceAccount:
    return ServiceAccount.generate("demo-project")


@pytest.fixture
def emulator(corpus: Corpus, account: ServiceAccount) -> Iterator[Emulator]:
    with Emulator(corpus.folder, account=account) as running:
        yield running


@pytest.fixture
def adc_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Application Default Credentials = the emulator's key file, and nothing else to find."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(emulator.key_file))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    return emulator.key_file


@pytest.fixture
def make_app(emulator: Emulator, adc_env: Path, corpus: Corpus, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An app over a fresh store holding the corpus, with an injected fast-retry client."""
    made: list[tuple[Flask, BulkDataClient]] = []

    def make(**overrides: Any) -> Flask:
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path / f'store{len(made)}.sqlite3'}",
            "healthcare_api_root": emulator.api_root, "upstream_max_retries": 2,
            "upstream_retry_budget_seconds": 5.0, "upstream_connect_timeout": 2.0,
            "upstream_read_timeout": 5.0, "volume_fetch_concurrency": 4}
        values.update(overrides)
        settings = Settings.load(environ={}, **values)
        client = BulkDataClient(settings, backoff_base=0.01, backoff_max=0.05)
        app = create_app(settings, bulkdata=client)
        made.append((app, client))
        ingest_bytes(app.extensions["engine"], orjson.dumps(corpus.dump))
        return app

    yield make
    for app, client in made:
        client.close()
        app.extensions["engine"].dispose()


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# -- the oracle: pydicom datasets, ordered and rescaled independently with numpy ---------------

def normal_of(ds: pydicom.Dataset) -> np.ndarray:
    orientation = np.array(ds.ImageOrientationPatient, dtype=float)
    return np.cross(orientation[:3], orientation[3:])


def oracle_volume(datasets: list[pydicom.Dataset]) -> tuple[np.ndarray, list[pydicom.Dataset]]:
    """HU volume of single-frame datasets sorted along the normal, and the sorted datasets."""
    normal = normal_of(datasets[0])
    ordered = sorted(datasets, key=lambda ds: float(np.dot(
        np.array(ds.ImagePositionPatient, dtype=float), normal)))
    volume = np.stack([ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope)
                       + float(ds.RescaleIntercept) for ds in ordered])
    return volume, ordered


def oracle_affine(ordered: list[pydicom.Dataset]) -> np.ndarray:
    """(column, row, slice) → LPS mm, from the first and last sorted datasets."""
    first, last = ordered[0], ordered[-1]
    orientation = np.array(first.ImageOrientationPatient, dtype=float)
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    affine = np.eye(4)
    affine[:3, 0] = orientation[:3] * column_spacing
    affine[:3, 1] = orientation[3:] * row_spacing
    affine[:3, 2] = (np.array(last.ImagePositionPatient, dtype=float)
                     - np.array(first.ImagePositionPatient, dtype=float)) / (len(ordered) - 1)
    affine[:3, 3] = np.array(first.ImagePositionPatient, dtype=float)
    return affine
