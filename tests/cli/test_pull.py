"""`dicom-resolver pull` as a real process: progress on a terminal, quiet otherwise, the
summary, the exit status, and resuming after the process was killed with SIGKILL."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from service.emulator.server import Emulator
from service.store import imports as import_rows
from service.store.engine import make_engine
from tests.support.google_store import StandInStudy

CLI = str(Path(sys.executable).with_name("dicom-resolver"))


@pytest.fixture
def cli_env(service_env: dict[str, str]) -> dict[str, str]:
    env = dict(service_env)
    env.update({
        "DICOM_RESOLVER_UPSTREAM_MAX_RETRIES": "2",
        "DICOM_RESOLVER_IMPORT_POLL_SECONDS": "0.1",
    })
    return env


@pytest.fixture
def store_engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def run_on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal (where the progress line goes)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    terminal = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the process closed its end
            break
        if not chunk:
            break
        terminal += chunk
    os.close(leader)
    assert process.stdout is not None
    with process.stdout:
        stdout = process.stdout.read().decode()
    return process.wait(60), stdout, terminal.decode(errors="replace")


def test_progress_on_a_terminal_and_the_summary(stand_in: Emulator, cli_env: dict[str, str],
                                                studies: list[StandInStudy]) -> None:
    stand_in.inject("/metadata", status=None, delay=0.15, count=len(studies))
    status, stdout, terminal = run_on_a_terminal(
        [CLI, "pull", "--since", "20240101", "--concurrency", "2"], cli_env)
    assert status == 0, (stdout, terminal)
    updates = re.findall(r"\r\[[#.]{24}\] (\d+)/(\d+) studies, (\d+) instances, "
                         r"[\d.]+ studies/s, ETA (\d+s|-)", terminal)
    assert len(updates) == len(studies)
    # One line per study; each says what the store holds when it is drawn, so two studies
    # finishing together (--concurrency 2) may both read 2/5: never back, ends at all.
    finished = [int(done) for done, *_ in updates]
    assert finished == sorted(finished) and finished[-1] == len(studies)
    assert all(done >= index for index, done in enumerate(finished, 1))  # n studies by the n-th
    assert {int(total) for _, total, *_ in updates} == {len(studies)}
    assert updates[-1][2] == str(sum(s.instances for s in studies))
    assert updates[0][3].endswith("s") and updates[-1][3] == "-"
    assert terminal.endswith("\r\x1b[K")  # the line is cleared before the summary
    summary = re.fullmatch(
        r"import [0-9a-f]{32}: done: (\d+) studies found, (\d+) imported, 0 unchanged, "
        r"0 failed; (\d+) instances in [\d.]+ s \([\d.]+ studies/s\)\n", stdout)
    assert summary is not None, stdout
    assert summary.groups() == (str(len(studies)), str(len(studies)),
                                str(sum(s.instances for s in studies)))


def test_quiet_when_not_a_terminal_and_failures_in_the_summary(
        stand_in: Emulator, cli_env: dict[str, str], studies: list[StandInStudy]) -> None:
    broken = studies[1].study_uid
    stand_in.inject(f"/studies/{broken}/metadata", status=500, count=3)
    done = subprocess.run([CLI, "pull", "--study", broken, "--study", studies[0].study_uid],
                          env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    # No progress line when stderr is not a terminal; only the warning log lines.
    assert "\r" not in done.stderr and "studies/s" not in done.stderr
    assert all(line.startswith("WARNING ") for line in done.stderr.splitlines())
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"import [0-9a-f]{32}: done: 2 studies found, 1 imported, "
                        r"0 unchanged, 1 failed; \d+ instances in .*", lines[0])
    assert lines[1].startswith(f"failed: {broken}: Upstream error: ")
    assert "upstream 500" in lines[1]


def test_bad_options_are_usage_errors(cli_env: dict[str, str]) -> None:
    done = subprocess.run([CLI, "pull", "--since", "2024-01-01"], env=cli_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "StudyDate" in done.stderr and "/filters/StudyDate" in done.stderr


def test_resume_after_the_pull_was_killed(stand_in: Emulator, cli_env: dict[str, str],
                                          studies: list[StandInStudy],
                                          store_engine: Engine) -> None:
    stand_in.inject("/metadata", status=None, delay=0.5, count=2 * len(studies))
    env = {**cli_env, "DICOM_RESOLVER_IMPORT_LEASE_SECONDS": "2"}
    process = subprocess.Popen([CLI, "pull", "--concurrency", "1"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import_id = wait_until_partly_done(store_engine, process)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    killed = import_rows.read(store_engine, import_id)
    assert killed is not None and killed["state"] == "running"
    finished_before = killed["counts"].get("done", 0)
    assert 0 < finished_before < len(studies)

    done = subprocess.run([CLI, "pull", "--resume", import_id], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    final = import_rows.read(store_engine, import_id)
    assert final is not None and final["state"] == "done"
    assert final["counts"] == {"done": len(studies)}
    assert final["instances"] == sum(s.instances for s in studies)
    fetched = [r.path for r in stand_in.requests if r.path.endswith("/metadata")]
    # Each study fetched once, but for the one under way when the process died.
    assert set(fetched) == {f"/v1/{stand_in.store_path}/dicomWeb/studies/{s.study_uid}"
                            "/metadata" for s in studies}
    assert len(fetched) <= len(studies) + 1


def wait_until_partly_done(engine: Engine, process: subprocess.Popen) -> str:
    """The id of the process's import once at least one study of it is done."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        for import_id in import_rows.list_unfinished(engine):
            row = import_rows.read(engine, import_id)
            if row is not None and row["counts"].get("done", 0) >= 1:
                return import_id
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the import never got under way")
