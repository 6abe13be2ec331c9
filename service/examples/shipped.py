"""The example study shipped with the package (service/examples/data/)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from pydicom import Dataset

from .google_json import decode_dump
from .spec import StudySpec
from .study import make_study

DATA_DIR = Path(__file__).resolve().parent / "data"
EXAMPLE_DUMP_PATH = DATA_DIR / "example-study.json"
# The spec of the shipped dump: 1 SR report + 24 CT slices of 512 × 512.
EXAMPLE_SPEC = StudySpec()


def example_datasets(*, with_pixels: bool = True) -> list[Dataset]:
    """Exactly the datasets of the shipped dump (with pixels, for an emulator to serve)."""
    return make_study(replace(EXAMPLE_SPEC, with_pixels=with_pixels))


def load_example_dump() -> list[dict[str, Any]]:
    """The shipped dump, parsed."""
    return decode_dump(EXAMPLE_DUMP_PATH.read_bytes())
