"""The pytest plugin as a consuming project uses it: pytester runs a separate pytest in a
subprocess (its own rootdir and ini, the plugin loaded through its pytest11 entry point)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import main
from service.examples.files import write_dicom_files
from service.examples.spec import StudySpec
from service.examples.study import make_study

pytest_plugins = ["pytester"]

# The inner tests record what they saw, for the outer test to check after they ended.
RECORDING_TEST = """
import json, os

def test_record(dicom_resolver, healthcare_emulator):
    client = dicom_resolver.client
    assert [s["StudyInstanceUID"] for s in client.search_studies()] == dicom_resolver.study_uids
    ct = [ref for ref in dicom_resolver.instances if ref.modality == "CT"]
    volume = client.volume(ct[0].study, ct[0].series)
    assert volume.array.shape[0] == len(ct)
    with open(os.environ["RECORD"], "a") as record:
        record.write(json.dumps({"url": dicom_resolver.url, "pid": dicom_resolver.pid,
                                 "mode": dicom_resolver.mode, "emulator": healthcare_emulator.url,
                                 "key_file": str(healthcare_emulator.key_file),
                                 "studies": dicom_resolver.study_uids}) + "\\n")
"""


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str,
        record: Path) -> list[dict]:
    monkeypatch.setenv("RECORD", str(record))
    # A caller's own service settings must not reach the fixture's service.
    monkeypatch.setenv("DICOM_RESOLVER_AUTH", "api-key")
    result = pytester.runpytest_subprocess("-v", *args, timeout=240)
    assert result.ret == 0, result.stdout.str()
    return [json.loads(line) for line in record.read_text().splitlines()]


def refused(url: str) -> bool:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, int(port))) != 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def in_group(pgid: int) -> list[int]:
    """Processes of process group `pgid` still alive (field 5 of /proc/PID/stat)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["thread", "gunicorn"])
def test_fixtures_serve_the_example_study_and_leave_nothing_behind(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        mode: str) -> None:
    pytester.makepyfile(test_consumer=RECORDING_TEST)
    seen = run(pytester, monkeypatch, f"--dicom-resolver-server={mode}",
               record=tmp_path / "seen.jsonl")
    assert len(seen) == 1 and seen[0]["mode"] == mode
    assert seen[0]["studies"] == ["2.25.112921913917899494697851269504584251558"]
    # Shut down: the service's port, the emulator's port, the gunicorn master and its
    # workers (its process group), the emulator's key file.
    assert refused(seen[0]["url"]) and refused(seen[0]["emulator"])
    if mode == "gunicorn":
        assert seen[0]["pid"] and not alive(seen[0]["pid"])
        assert in_group(seen[0]["pid"]) == []


@pytest.mark.slow
def test_own_fixture_set_by_ini_and_by_marker_and_function_scope(
        pytester: pytest.Pytester, tmp_path: Path) -> None:
    # Two small sets of .dcm files: one by ini (a plain folder), one made by `fixture make`.
    by_ini, by_marker = tmp_path / "by-ini", tmp_path / "made"
    write_dicom_files(make_study(StudySpec(n_slices=3, seed=11)), by_ini)
    source = tmp_path / "source"
    write_dicom_files(make_study(StudySpec(n_slices=2, seed=12)), source)
    assert main(["fixture", "make", str(source), str(by_marker)]) == 0
    pytester.makeini(f"[pytest]\ndicom_resolver_data = {by_ini}\n"
                     "dicom_resolver_scope = function\n")
    pytester.makepyfile(test_consumer=f"""
import pytest

def test_first(dicom_resolver):
    assert len([i for i in dicom_resolver.instances if i.modality == "CT"]) == 3
    dicom_resolver.client.delete_study(dicom_resolver.study_uids[0])
    pytest.first_url = dicom_resolver.url

def test_second_gets_its_own(dicom_resolver):
    assert dicom_resolver.url != pytest.first_url
    assert len(list(dicom_resolver.client.search_studies())) == 1

def test_fresh_after_a_delete(fresh_dicom_resolver):
    fresh_dicom_resolver.client.delete_study(fresh_dicom_resolver.study_uids[0])
    fresh_dicom_resolver.reset()
    assert [s["StudyInstanceUID"] for s in fresh_dicom_resolver.client.search_studies()] == \\
        fresh_dicom_resolver.study_uids

@pytest.mark.dicom_resolver_data({str(by_marker)!r})
def test_marked(fresh_dicom_resolver):
    assert len([i for i in fresh_dicom_resolver.instances if i.modality == "CT"]) == 2

@pytest.mark.dicom_resolver_data({str(by_marker)!r})
def test_marked_function_scoped(dicom_resolver, healthcare_emulator):
    assert len([i for i in dicom_resolver.instances if i.modality == "CT"]) == 2
    assert healthcare_emulator.fixtures.dicom_dir.parent.name == "made"
""")
    result = pytester.runpytest_subprocess("-v", timeout=240)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=5)


def test_plugin_import_is_light_and_fixture_only() -> None:
    """Loaded by every pytest of an environment where it is installed: nothing heavy at
    import, no autouse fixture, options in a group of their own."""
    probe = subprocess.run([sys.executable, "-c", (
        "import sys, dicom_resolver_testing.plugin as p; "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'sqlalchemy', 'numpy', 'service', 'pydicom', 'requests', 'google')); "
        "print(heavy)")], capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "[]"
    from dicom_resolver_testing import plugin

    fixtures = [getattr(plugin, name) for name in ("healthcare_emulator", "dicom_resolver",
                                                   "fresh_dicom_resolver")]
    assert all(not getattr(f, "_fixture_function_marker", None) or
               not f._fixture_function_marker.autouse for f in fixtures)
