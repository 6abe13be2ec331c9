"""A study written by the example factory (pydicom), as session fixtures: its datasets
(the oracle), its Google-style dump, and that dump as a request body."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pydicom
import pytest

from service.examples.factory import StudySpec, make_dump, make_study


def study_fixtures(n_slices: int) -> tuple[Callable[..., object], ...]:
    """Fixtures `study_datasets` (one SR report and `n_slices` 64×64 CT slices),
    `study_dump` and `study_body`; a conftest binds them to those names."""

    @pytest.fixture(scope="session")
    def study_datasets() -> list[pydicom.Dataset]:
        return make_study(StudySpec(n_slices=n_slices, rows=64, columns=64))

    @pytest.fixture(scope="session")
    def study_dump(study_datasets: list[pydicom.Dataset]) -> list[dict]:
        return make_dump(study_datasets)

    @pytest.fixture(scope="session")
    def study_body(study_dump: list[dict]) -> bytes:
        return orjson.dumps(study_dump)

    return study_datasets, study_dump, study_body
