"""The shipped example study as a fixture set, written once into a cache folder."""

from __future__ import annotations

from pathlib import Path

from service.cli.demo import write_example_files
from service.examples.shipped import EXAMPLE_DUMP_PATH, load_example_dump
from service.fixtures.layout import DICOM_DIR, DUMPS_DIR


def example_fixture_set(cache_dir: Path) -> Path:
    """`cache_dir` laid out as `fixture make` would: the .dcm files (generated on first use,
    a few seconds) and the shipped dump, byte for byte."""
    cache_dir = Path(cache_dir)
    write_example_files(cache_dir / DICOM_DIR)
    study_uid = load_example_dump()[0]["0020000D"]["Value"][0]
    dump = cache_dir / DUMPS_DIR / f"{study_uid}.json"
    if not dump.is_file():
        dump.parent.mkdir(parents=True, exist_ok=True)
        partial = dump.with_suffix(".partial")
        partial.write_bytes(EXAMPLE_DUMP_PATH.read_bytes())
        partial.replace(dump)
    return cache_dir
