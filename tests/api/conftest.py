"""Fixture dumps for the API tests, generated with the example factory (pydicom)."""

from __future__ import annotations

import orjson
import pydicom
import pytest

from service.examples.factory import StudySpec, make_dump, make_study


@pytest.fixture(scope="session")
def study_datasets() -> list[pydicom.Dataset]:
    """One SR report and six 64×64 CT slices."""
    return make_study(StudySpec(n_slices=6, rows=64, columns=64))


@pytest.fixture(scope="session")
def study_dump(study_datasets: list[pydicom.Dataset]) -> list[dict]:
    return make_dump(study_datasets)


@pytest.fixture(scope="session")
def study_body(study_dump: list[dict]) -> bytes:
    return orjson.dumps(study_dump)


def post_dump(client, body: bytes, content_type: str = "application/dicom+json", **headers):
    return client.post("/v1/dumps", data=body, content_type=content_type, headers=headers)
