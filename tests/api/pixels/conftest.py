"""The pixel endpoint end to end: the app (Flask test client) → google-auth service-account
flow → the Healthcare API emulator on loopback → .dcm files written by pydicom.

Datasets live in one session-wide folder; each test gets a fresh emulator over it (clean
request log and faults) and an app on its own SQLite store with every dump ingested.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydicom.data import get_testdata_file

from service.emulator.server import Emulator
from service.examples.factory import StudySpec, make_study, to_google_json, write_dicom_files
from service.settings import Settings
from tests.support.dcm_files import write_enhanced_ct
from tests.support.emulated import (
    app_maker,
    corpus_emulator_fixtures,
    emulated_settings,
    use_emulator_adc,
)

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
    return write_enhanced_ct(folder, seed=3, rescales=FRAME_RESCALES,
                             z_positions=[10.5 * index for index in range(3)])


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


account, emulator = corpus_emulator_fixtures()


@pytest.fixture
def make_settings(emulator: Emulator, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(**overrides: Any) -> Settings:
        return emulated_settings(emulator, **{
            "database_url": f"sqlite:///{tmp_path / 'store.sqlite3'}", **overrides})

    return make


@pytest.fixture
def adc_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return use_emulator_adc(monkeypatch, emulator, tmp_path / "gcloud")


@pytest.fixture
def make_app(make_settings, corpus: Corpus):  # type: ignore[no-untyped-def]
    """An app over a fresh store holding every dump, with an injected fast-retry client."""
    with app_maker() as made:
        def make(dump: list[dict[str, Any]] | None = None, *, credentials: Any = None,
                 **overrides: Any) -> Flask:
            return made(make_settings(**overrides), credentials=credentials,
                        dumps=[corpus.dump if dump is None else dump])

        yield make


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
