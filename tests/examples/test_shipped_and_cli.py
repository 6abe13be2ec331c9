"""The committed example dump is exactly what the generator produces; the CLI writes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pydicom
from pydicom import Dataset

from service.examples.factory import load_example_dump, make_dump
from service.examples.google_json import encode_dump
from service.examples.shipped import EXAMPLE_DUMP_PATH

ROOT = Path(__file__).resolve().parents[2]


def test_regenerating_gives_the_committed_bytes(example_study: list[Dataset]) -> None:
    assert encode_dump(make_dump(example_study), indent=True) == EXAMPLE_DUMP_PATH.read_bytes()


def test_shipped_dump_shape(example_study: list[Dataset]) -> None:
    dump = load_example_dump()
    assert len(dump) == 25
    assert dump[0]["00080060"]["Value"] == ["SR"]
    assert {i["00080060"]["Value"][0] for i in dump[1:]} == {"CT"}
    assert {(i["00280010"]["Value"][0], i["00280011"]["Value"][0]) for i in dump[1:]} == {
        (512, 512)}
    assert all("BulkDataURI" in i["7FE00010"] for i in dump[1:])
    # The regenerated datasets carry the pixels those URIs stand for.
    assert all(len(ds.PixelData) == 512 * 512 * 2 for ds in example_study[1:])
    readme = (EXAMPLE_DUMP_PATH.parent / "README.md").read_text()
    assert "synthetic" in readme.lower() and "python -m service.examples" in readme


def test_cli_writes_dump_and_dicom_files(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service.examples", "--out", str(tmp_path), "--slices", "2"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    assert "3 instances" in result.stdout
    dump = load_dump(tmp_path / "example-study.json")
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert len(dump) == 3 and len(files) == 3
    assert {f.stem for f in files} == {i["00080018"]["Value"][0] for i in dump}
    assert pydicom.dcmread(files[0]).SOPInstanceUID in {f.stem for f in files}


def test_cli_rejects_negative_slices(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service.examples", "--out", str(tmp_path), "--slices", "-1"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 2 and "--slices" in result.stderr


def load_dump(path: Path) -> list[dict]:
    from service.examples.google_json import decode_dump

    return decode_dump(path.read_bytes())
