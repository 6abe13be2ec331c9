"""`dicom-resolver serve` as a real process: gunicorn, a free port, SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from dicom_resolver_testing.stack import free_port
from service.cli import main
from service.cli.serve import GUNICORN_DEFAULTS, gunicorn_options
from service.settings import Settings
from tests.support.gunicorn import CLI, wait_healthy


@contextmanager
def running_serve(arguments: list[str], env: dict[str, str], cwd: Path,
                  log_path: Path) -> Iterator[subprocess.Popen]:
    """`dicom-resolver serve …` as a process logging to log_path, killed if still running."""
    with log_path.open("wb") as log:
        process = subprocess.Popen([CLI, "serve", *arguments],
                                   env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def wait_until_up(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    if not wait_healthy(base, process, timeout):
        raise AssertionError(f"{base} did not answer within {timeout} s "
                             f"(exit status {process.poll()})")


@pytest.mark.slow
def test_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "db.sqlite3"
    env = {**os.environ, "DICOM_RESOLVER_PORT": str(port),
           "DICOM_RESOLVER_DATABASE_URL": f"sqlite:///{database}"}
    log_path = tmp_path / "server.log"
    with running_serve(["--workers", "2", "--no-demo"], env, tmp_path, log_path) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, process)
        answer = requests.get(f"{base}/v1/studies", params={"PatientName": "SECRET^NAME"},
                              timeout=10)
        assert answer.status_code == 200 and answer.json()["total"] == 0
        assert database.exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    log_text = log_path.read_text()
    assert '"GET /v1/studies" 200' in log_text  # the access log is on …
    assert "SECRET" not in log_text  # … without query strings
    assert "Handling signal: term" in log_text


@pytest.mark.slow
def test_serve_without_credentials_starts_demo_mode(tmp_path: Path) -> None:
    """What `make run` does on a fresh machine: the stand-in, the example study, pixels."""
    from service.examples.factory import load_example_dump

    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in ("GOOGLE_APPLICATION_CREDENTIALS", "DICOM_RESOLVER_HEALTHCARE_API_ROOT")}
    env.update({"DICOM_RESOLVER_PORT": str(port), "HOME": str(tmp_path),
                "DICOM_RESOLVER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    example = load_example_dump()
    ct = next(i for i in example if i["00080060"]["Value"] == ["CT"])
    study, series, sop = (ct[key]["Value"][0] for key in ("0020000D", "0020000E", "00080018"))
    log_path = tmp_path / "server.log"
    with running_serve(["--workers", "2"], env, tmp_path, log_path) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, process, timeout=120)
        page = requests.get(f"{base}/v1/studies", timeout=10).json()
        assert [item["StudyInstanceUID"] for item in page["items"]] == [study]
        pixels = requests.get(f"{base}/v1/studies/{study}/series/{series}/instances/{sop}"
                              "/pixels?format=png&window=lung", timeout=60)
        assert pixels.status_code == 200 and pixels.content.startswith(b"\x89PNG")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    console = log_path.read_text()
    assert "demo" in console.lower()
    # Where to go, that nothing needs ingesting, and the one-liner that opens CORS.
    assert f"{base}/dicomweb" in console and "already" in console and study in console
    assert "DICOM_RESOLVER_DICOMWEB_CORS_ORIGINS=" in console


def options(tmp_path: Path, **flags) -> dict:
    args = argparse.Namespace(host=None, port=None, workers=None, **{})
    for key, value in flags.items():
        setattr(args, key, value)
    return gunicorn_options(Settings.load({}, host="0.0.0.0", port=9000), args,
                            tmp_path / "gunicorn.conf.py")


def test_gunicorn_options_layers(tmp_path: Path) -> None:
    defaults = options(tmp_path)
    assert defaults["bind"] == "0.0.0.0:9000"
    assert defaults["workers"] == min(2 * (os.cpu_count() or 1) + 1, 4)
    assert defaults["threads"] == 4
    for atom in ("%(q)s", "%(r)s", "%(u)s"):
        assert atom not in defaults["access_log_format"]

    (tmp_path / "gunicorn.conf.py").write_text("workers = 7\ntimeout = 5\n_private = 1\n")
    from_file = options(tmp_path)
    assert (from_file["workers"], from_file["timeout"]) == (7, 5)
    assert "_private" not in from_file
    assert from_file["threads"] == GUNICORN_DEFAULTS["threads"]

    flagged = options(tmp_path, port=9100, workers=2, host="::1")
    assert (flagged["bind"], flagged["workers"]) == ("[::1]:9100", 2)


def test_emulate_delegates_to_the_emulator(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["emulate", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: dicom-resolver emulate" in out and "--data" in out


def test_help_and_unknown_command(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("show", "tree", "tag", "ingest", "serve", "migrate", "emulate"):
        assert command in out
    assert main(["frobnicate"]) == 2
    assert main([]) == 2
