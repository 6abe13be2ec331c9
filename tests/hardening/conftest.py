"""An app over the test's store (SQLite, or PostgreSQL when configured) holding a small CT
study whose pixels the Healthcare API emulator serves, so that every route, pixel routes
included, answers for real; and the values that fill every route template."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pydicom
import pytest
from flask import Flask

from service.emulator.server import Emulator
from service.examples.factory import StudySpec, make_dump, make_study, write_dicom_files
from tests.support.emulated import (
    close_app,
    emulated_app,
    emulated_settings,
    emulator_credentials,
    new_account,
)

PATIENT_NAME = "QZXFUZZ^SECRETNAME"
PATIENT_ID = "QZX-FUZZ-4471"


def study_of() -> list[pydicom.Dataset]:
    """The stored study: a report and two CT slices of a recognisable patient."""
    return make_study(StudySpec(seed=57, n_slices=2, rows=16, columns=16,
                                patient_name=PATIENT_NAME, patient_id=PATIENT_ID))


def study_dump_of(datasets: list[pydicom.Dataset]) -> list[dict[str, Any]]:
    return make_dump(datasets)


@pytest.fixture(scope="session")
def study_datasets() -> list[pydicom.Dataset]:
    return study_of()


@pytest.fixture(scope="session")
def study_dump(study_datasets: list[pydicom.Dataset]) -> list[dict[str, Any]]:
    return study_dump_of(study_datasets)


@pytest.fixture(scope="session")
def pixel_emulator(study_datasets: list[pydicom.Dataset],
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    folder = tmp_path_factory.mktemp("hardening-files")
    write_dicom_files(study_datasets, folder)
    with Emulator(folder, account=new_account()) as running:
        yield running


@pytest.fixture
def hardened_app(pixel_emulator: Emulator, database_url: str,
                 study_dump: list[dict[str, Any]]) -> Iterator[Flask]:
    settings = emulated_settings(pixel_emulator, database_url=database_url,
                                 migrate_on_start=True)
    app = emulated_app(settings, credentials=emulator_credentials(pixel_emulator),
                       dumps=[study_dump])
    yield app
    close_app(app)


def route_values(datasets: list[pydicom.Dataset]) -> dict[str, object]:
    """Real values for every variable of the url_map: a stored CT slice and its kin."""
    image = next(ds for ds in datasets if ds.Modality == "CT")
    return {"study": image.StudyInstanceUID, "series": image.SeriesInstanceUID,
            "instance": image.SOPInstanceUID, "tag": "00100010", "frame_list": "1",
            "frame": 1, "path": "7FE00010", "filename": "explorer.css",
            # /v1/imports/<import_id> (branch h14-imports): no import is started here, so
            # its routes answer their 404 problem; the properties still hold.
            "import_id": "0" * 32}


@pytest.fixture(scope="session")
def values(study_datasets: list[pydicom.Dataset]) -> dict[str, object]:
    return route_values(study_datasets)


