"""`dicom-resolver tree` and `tag`, against pydicom's reading and dictionary."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest
from pydicom.datadict import (
    dictionary_description,
    dictionary_keyword,
    dictionary_VM,
    dictionary_VR,
    get_private_entry,
)
from pydicom.valuerep import DA

from service.cli import main

VENV_BIN = Path(sys.executable).parent


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_tree_counts_match_pydicom(capsys, dump_file: Path, datasets) -> None:
    status, out, _ = run(capsys, "tree", str(dump_file))
    assert status == 0
    lines = out.splitlines()
    patients = [line for line in lines if line.startswith("Patient ")]
    studies = [line.strip() for line in lines if line.startswith("  Study ")]
    series = [line.strip() for line in lines if line.startswith("    Series ")]
    assert len(patients) == len({ds.PatientID for ds in datasets})
    assert len(studies) == len({ds.StudyInstanceUID for ds in datasets})
    assert len(series) == len({ds.SeriesInstanceUID for ds in datasets})

    per_series = Counter(ds.SeriesInstanceUID for ds in datasets)
    for ds in datasets:
        line = next(s for s in series if s.startswith(f"Series {ds.SeriesInstanceUID} "))
        count = per_series[ds.SeriesInstanceUID]
        assert line == (f"Series {ds.SeriesInstanceUID} #{ds.SeriesNumber} {ds.Modality} "
                        f'"{ds.SeriesDescription}": {count} instance{"s" if count > 1 else ""}')
    first = datasets[1]
    study_line = next(s for s in studies if s.startswith(f"Study {first.StudyInstanceUID}"))
    in_study = [ds for ds in datasets if ds.StudyInstanceUID == first.StudyInstanceUID]
    assert DA(first.StudyDate).isoformat() in study_line
    assert f'"{first.StudyDescription}"' in study_line
    assert f"{len(in_study)} instances" in study_line
    assert "modalities " + "/".join(sorted({ds.Modality for ds in in_study})) in study_line
    patient_a = next(p for p in patients if first.PatientID in p)
    assert str(first.PatientName) in patient_a
    assert f"{sum(ds.PatientID == first.PatientID for ds in datasets)} instances" in patient_a
    assert "2 studies" in patient_a


def test_tree_lists_instances_in_instance_number_order(capsys, dump_file: Path,
                                                       datasets) -> None:
    _, out, _ = run(capsys, "tree", str(dump_file), "--instances")
    series_uid = datasets[1].SeriesInstanceUID
    members = sorted((ds for ds in datasets if ds.SeriesInstanceUID == series_uid),
                     key=lambda ds: ds.InstanceNumber)
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if series_uid in line)
    assert lines[start + 1:start + 1 + len(members)] == [
        f"      Instance {ds.SOPInstanceUID} #{ds.InstanceNumber}" for ds in members]


def test_tree_of_invalid_dump_exits_1(capsys, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(orjson.dumps([{"0020000D": {"vr": "UI", "Value": ["1.2a"]}}]))
    status, out, err = run(capsys, "tree", str(path))
    assert status == 1 and out == "" and "$[0].0020000D.Value[0]" in err


@pytest.mark.parametrize("text", ["00180060", "(0018,0060)", "KVP", "0018,0060"])
def test_tag_matches_pydicom_dictionary(capsys, text: str) -> None:
    status, out, _ = run(capsys, "tag", text)
    assert status == 0
    assert orjson.loads(out) == {
        "tag": "00180060", "keyword": dictionary_keyword(0x00180060),
        "name": dictionary_description(0x00180060), "vr": dictionary_VR(0x00180060),
        "vm": dictionary_VM(0x00180060), "retired": False}
    assert out.startswith('{"tag":"00180060","keyword":"KVP",') and out.endswith("}\n")


def test_tag_retired(capsys) -> None:
    status, out, _ = run(capsys, "tag", "00080001")
    assert status == 0 and orjson.loads(out)["retired"] is True


def test_private_tag_with_creator(capsys) -> None:
    status, out, _ = run(capsys, "tag", "00191002", "--creator", "GEMS_ACQU_01")
    vr, vm, name, _ = get_private_entry(0x00191002, "GEMS_ACQU_01")
    assert status == 0
    assert orjson.loads(out) == {"tag": "00191002", "keyword": None, "name": name, "vr": vr,
                                 "vm": vm, "retired": False, "creator": "GEMS_ACQU_01"}


@pytest.mark.parametrize(("argv", "status"), [
    (["tag", "00191002"], 1),  # private without its creator
    (["tag", "00191002", "--creator", "NOBODY_01"], 1),
    (["tag", "00020099"], 1),  # well-formed, not in the dictionary
    (["tag", "NoSuchKeyword"], 2),
    (["tag", "0018006"], 2),
    (["tag", "(0018,00G0)"], 2),
])
def test_tag_failures(capsys, argv: list[str], status: int) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (status, "") and err.strip()


def test_tag_answers_like_the_api(capsys, tmp_path: Path) -> None:
    from service import create_app
    from service.settings import Settings

    app = create_app(Settings.load({}, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    client = app.test_client()
    for argv, url in ((["tag", "00280030"], "/v1/tags/00280030"),
                      (["tag", "00191002", "--creator", "GEMS_ACQU_01"],
                       "/v1/tags/00191002?creator=GEMS_ACQU_01")):
        _, out, _ = run(capsys, *argv)
        response = client.get(url)
        assert response.status_code == 200
        assert orjson.loads(out) == response.get_json()
    app.extensions["engine"].dispose()


def test_console_script_as_subprocess() -> None:
    result = subprocess.run([str(VENV_BIN / "dicom-resolver"), "tag", "00180060"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["keyword"] == dictionary_keyword(0x00180060)
    result = subprocess.run([str(VENV_BIN / "dicom-resolver"), "tag", "zz"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "zz" in result.stderr
