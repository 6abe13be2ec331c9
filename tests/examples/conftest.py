"""Shared fixtures of the example generator's tests: small studies, built once."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import Dataset

from service.examples.factory import StudySpec, make_study, write_dicom_files

# Small images keep the suite fast; the default 512 × 512 is covered by the shipped study.
SMALL = StudySpec(n_slices=6, rows=96, columns=96, seed=3)


@pytest.fixture(scope="session")
def small_study() -> list[Dataset]:
    """A report and six 96 × 96 CT slices."""
    return make_study(SMALL)


@pytest.fixture(scope="session")
def example_study() -> list[Dataset]:
    """The shipped example study with its pixels (1 SR + 24 CT slices of 512 × 512)."""
    from service.examples.factory import example_datasets

    return example_datasets()


@pytest.fixture(scope="session")
def small_files(small_study: list[Dataset], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The small study written as Part 10 files."""
    return write_dicom_files(small_study, tmp_path_factory.mktemp("dicom"))
