"""UIDs are valid and unique; the same spec gives the same bytes in any process."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from pydicom.uid import UID

from service.examples.factory import StudySpec, dump_bytes, make_dump, make_study

UID_VRS = "UI"


def uids_of(instance: dict) -> list[str]:
    """Every UI value of a JSON instance, nested ones included."""
    found = []
    for element in instance.values():
        if element["vr"] == UID_VRS:
            found.extend(element.get("Value", []))
        elif element["vr"] == "SQ":
            for item in element.get("Value", []):
                found.extend(uids_of(item))
    return found


def test_every_uid_is_valid_and_at_most_64_characters() -> None:
    for instance in make_dump(make_study(StudySpec(n_slices=3, rows=16, columns=16,
                                                   n_series=2, localizer=True))):
        for uid in uids_of(instance):
            assert len(uid) <= 64
            assert UID(uid).is_valid, uid


def test_instance_uids_are_unique_across_studies_and_series() -> None:
    sops, series = set(), set()
    for seed in range(3):
        for ds in make_study(StudySpec(seed=seed, n_slices=4, rows=16, columns=16, n_series=2,
                                       with_pixels=False)):
            sops.add(ds.SOPInstanceUID)
            series.add(ds.SeriesInstanceUID)
    assert len(sops) == 3 * (1 + 2 * 4)
    assert len(series) == 3 * 3


def test_same_seed_same_bytes_different_seed_different_uids() -> None:
    spec = StudySpec(n_slices=3, rows=32, columns=32)
    first, again = make_study(spec), make_study(spec)
    assert dump_bytes(first) == dump_bytes(again)
    assert [ds.PixelData for ds in first[1:]] == [ds.PixelData for ds in again[1:]]
    other = make_study(replace(spec, seed=1))
    assert other[0].StudyInstanceUID != first[0].StudyInstanceUID
    assert other[1].PixelData != first[1].PixelData  # the noise follows the seed


def test_determinism_across_processes() -> None:
    # Hash randomisation or uuid4 would make a fresh interpreter differ.
    code = (
        "import sys, hashlib\n"
        "from service.examples.factory import StudySpec, dump_bytes, make_study\n"
        "ds = make_study(StudySpec(n_slices=2, rows=16, columns=16))\n"
        "sys.stdout.write(hashlib.sha256(dump_bytes(ds) + ds[1].PixelData).hexdigest())\n"
    )
    digests = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True, env={"PYTHONHASHSEED": str(salt)},
                       cwd=Path(__file__).resolve().parents[2]).stdout
        for salt in (1, 2)
    }
    assert len(digests) == 1
