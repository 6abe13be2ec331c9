"""Series volumes end to end: the app (Flask test client) → google-auth service-account flow →
the Healthcare API emulator on loopback → .dcm files written by pydicom.

One session-wide folder holds a small series for each geometric variant (shuffled numbers,
reversed scan, oblique, gaps, duplicates, localizer, per-slice rescales, a multi-frame
Enhanced CT); each test gets a fresh emulator over it and an app on its own SQLite store.
The oracle (tests/support/volume_oracle.py) reads the same files with pydicom and orders them
with numpy.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.emulator.server import Emulator
from service.examples.factory import StudySpec, make_study, to_google_json, write_dicom_files
from tests.support.emulated import (
    app_maker,
    corpus_emulator_fixtures,
    emulated_settings,
    use_emulator_adc,
)
from tests.support.volume_oracle import enhanced_ct

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


account, emulator = corpus_emulator_fixtures()


@pytest.fixture
def adc_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return use_emulator_adc(monkeypatch, emulator, tmp_path / "gcloud")


@pytest.fixture
def make_app(emulator: Emulator, adc_env: Path, corpus: Corpus, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An app over a fresh store holding the corpus, with an injected fast-retry client."""
    stores = itertools.count()  # each app its own store file
    with app_maker() as made:
        def make(**overrides: Any) -> Flask:
            return made(emulated_settings(emulator, **{
                "database_url": f"sqlite:///{tmp_path / f'store{next(stores)}.sqlite3'}",
                "upstream_max_retries": 2, "volume_fetch_concurrency": 4, **overrides}),
                dumps=[corpus.dump])

        yield make


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
