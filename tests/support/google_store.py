"""A stand-in Google DICOM store holding several generated studies, and what to compare
imports against: the dump a user would have exported by hand from the same stand-in.

Shared by tests/api/imports, tests/cli and tests/contract.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, select

from service.emulator.keys import ServiceAccount
from service.emulator.server import Emulator
from service.examples.factory import StudySpec, make_study, write_dicom_files
from service.settings import Settings
from service.store.schema import instances, series, studies
from tests.support.emulated import emulated_settings, new_account

# (study date, patient id, modality) of each study of the stand-in.
STUDY_PLAN = (("20240105", "PAT-A", "CT"), ("20240212", "PAT-B", "MR"),
              ("20240301", "PAT-A", "CT"), ("20240415", "PAT-C", "CT"),
              ("20240520", "PAT-D", "MR"))


@dataclass(frozen=True)
class StandInStudy:
    study_uid: str
    study_date: str
    patient_id: str
    modality: str
    instances: int


def write_studies(folder: Path, plan: tuple[tuple[str, str, str], ...] = STUDY_PLAN, *,
                  slices: int = 3, seed: int = 700) -> list[StandInStudy]:
    """Small studies (a report and `slices` 16×16 images each) as .dcm files in `folder`."""
    written = []
    for index, (date, patient_id, modality) in enumerate(plan):
        spec = StudySpec(seed=seed + index, n_slices=slices, rows=16, columns=16,
                         study_date=date, patient_id=patient_id, modality=modality,
                         accession_number=f"ACC-{seed + index}")
        datasets = make_study(spec)
        write_dicom_files(datasets, folder)
        written.append(StandInStudy(str(datasets[0].StudyInstanceUID), date, patient_id,
                                    modality, len(datasets)))
    return written


def stand_in_fixtures() -> tuple[Callable[..., Any], ...]:
    """Fixtures `account`, `store_folder`, `stand_in` (a fresh stand-in per test over the
    session's studies), `studies` and `service_env`; the conftests of tests/api/imports and
    tests/cli (`pull`) bind them to those names."""

    @pytest.fixture(scope="session")
    def account() -> ServiceAccount:
        return new_account()

    @pytest.fixture(scope="session")
    def store_folder(tmp_path_factory: pytest.TempPathFactory
                     ) -> tuple[Path, list[StandInStudy]]:
        folder = tmp_path_factory.mktemp("google-store")
        return folder, write_studies(folder)

    @pytest.fixture
    def stand_in(store_folder: tuple[Path, list[StandInStudy]],
                 account: ServiceAccount) -> Iterator[Emulator]:
        with Emulator(store_folder[0], account=account) as running:
            yield running

    @pytest.fixture
    def studies(store_folder: tuple[Path, list[StandInStudy]]) -> list[StandInStudy]:
        return store_folder[1]

    @pytest.fixture
    def service_env(stand_in: Emulator, database_url: str, tmp_path: Path) -> dict[str, str]:
        """The environment of a `dicom-resolver` process importing from the stand-in into the
        test's store: none of the caller's DICOM_RESOLVER_* settings, the stand-in's key file."""
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("DICOM_RESOLVER_")}
        env.update({
            "GOOGLE_APPLICATION_CREDENTIALS": str(stand_in.key_file),
            "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"), "NO_GCE_CHECK": "True",
            "DICOM_RESOLVER_HEALTHCARE_API_ROOT": stand_in.api_root,
            "DICOM_RESOLVER_DICOM_STORE": stand_in.store_path,
            "DICOM_RESOLVER_DATABASE_URL": database_url,
            "DICOM_RESOLVER_MIGRATE_ON_START": "true",
        })
        return env

    return account, store_folder, stand_in, studies, service_env


def importing_settings(stand_in: Emulator, database_url: str, **overrides: Any) -> Settings:
    """Settings of an app importing from `stand_in` into the store at `database_url`
    (migrated at start, its worker polling every 50 ms)."""
    return emulated_settings(stand_in, database_url=database_url, migrate_on_start=True,
                             dicom_store=stand_in.store_path, import_poll_seconds=0.05,
                             **overrides)


def exported_by_hand(emulator: Emulator, session: requests.Session,
                     study_uid: str) -> bytes:
    """`GET …/studies/{uid}/metadata` on the stand-in: the dump a user would POST."""
    response = session.get(f"{emulator.url}/v1/{emulator.store_path}/dicomWeb/studies/"
                           f"{study_uid}/metadata", timeout=30)
    response.raise_for_status()
    return response.content


def stored_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """What an import leaves in the store, without timestamps and dump ids (which differ
    between two ingests of the same data)."""
    with engine.connect() as connection:
        return {
            "studies": sorted(connection.execute(select(
                studies.c.study_uid, studies.c.patient_id, studies.c.study_date,
                studies.c.modalities, studies.c.series_count, studies.c.instance_count,
                studies.c.attributes, studies.c.dicom_json)).all()),
            "series": sorted(connection.execute(select(
                series.c.series_uid, series.c.study_uid, series.c.modality,
                series.c.instance_count, series.c.attributes, series.c.dicom_json)).all()),
            "instances": sorted(connection.execute(select(
                instances.c.sop_uid, instances.c.series_uid, instances.c.study_uid,
                instances.c.content_hash, instances.c.dicom_json, instances.c.attributes,
                instances.c.summary)).all()),
        }
