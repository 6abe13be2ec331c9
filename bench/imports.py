"""Importing a Google DICOM store (`dicom-resolver pull`) beside plain sequential metadata GETs.

    .venv/bin/python -m bench.imports [--studies 200] [--instances 50] [--latency-ms 100 0]
                                      [--no-write]

Generates --studies studies of --instances instances (an SR report and CT slices, 32×32
pixels: the metadata does not depend on them) as .dcm files in a temporary folder, serves
them with the Healthcare API stand-in (`dicom-resolver emulate`, its own process) with
--latency-ms added per request (Google answers a study's metadata in a fraction of a
second; 0 shows the CPU-bound floor), and measures in the same run:

  baseline  plain sequential `GET …/studies/{uid}/metadata` of every study through an
            AuthorizedSession (nothing parsed, nothing stored)
  pull      `dicom-resolver pull --since 19000101` (default concurrency) into a fresh
            SQLite store: the QIDO-RS search, every study's metadata, every ingest
  pull 1/8  the same for an eighth of the studies, to show that peak memory is bounded
            by what is in flight, not by the size of the import

A warm-up pass (8 threads, untimed) fills the stand-in's rendering cache first, so that
both sides see the same stand-in cost. The pull's peak RSS and CPU come from wait4().
Target: pull ≥ 4× the baseline's studies/s with default concurrency.
Writes the figures into bench/RESULTS.md's "Imports" section unless --no-write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pixels import EmulatorProcess, publish  # noqa: E402

from bench.common import machine  # noqa: E402
from service.bulkdata.credentials import HEALTHCARE_SCOPE  # noqa: E402
from service.examples.factory import StudySpec, make_study, write_dicom_files  # noqa: E402
from service.store.engine import make_engine  # noqa: E402
from service.store.schema import instances  # noqa: E402

CLI = str(Path(sys.executable).with_name("dicom-resolver"))
FIRST_DATE = dt.date(2020, 1, 1)


def study_date(index: int) -> str:
    return (FIRST_DATE + dt.timedelta(days=index)).strftime("%Y%m%d")


def generate(folder: Path, studies: int, per_study: int) -> list[str]:
    uids = []
    for index in range(studies):
        spec = StudySpec(seed=50_000 + index, n_slices=per_study - 1, rows=32, columns=32,
                         study_date=study_date(index), patient_id=f"PAT-{index:05d}",
                         accession_number=f"ACC-{index:05d}")
        datasets = make_study(spec)
        write_dicom_files(datasets, folder)
        uids.append(str(datasets[0].StudyInstanceUID))
    return uids


def metadata_url(emulator: EmulatorProcess, uid: str) -> str:
    return f"{emulator.url}/v1/{emulator.store_path}/dicomWeb/studies/{uid}/metadata"


def warm_up(session: AuthorizedSession, emulator: EmulatorProcess, uids: list[str]) -> None:
    """Every study's metadata once, 8 at a time, untimed: fills the stand-in's cache."""
    with ThreadPoolExecutor(8) as pool:
        for response in pool.map(lambda uid: session.get(metadata_url(emulator, uid),
                                                         timeout=300), uids):
            response.raise_for_status()


def baseline(session: AuthorizedSession, emulator: EmulatorProcess,
             uids: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    size = 0
    for uid in uids:
        response = session.get(metadata_url(emulator, uid), timeout=120)
        response.raise_for_status()
        size += len(response.content)
    return time.perf_counter() - started, size


def pull(emulator: EmulatorProcess, database: Path, workdir: Path,
         extra: list[str]) -> dict[str, float]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("DICOM_RESOLVER_")}
    env.update({"GOOGLE_APPLICATION_CREDENTIALS": str(emulator.key_file),
                "CLOUDSDK_CONFIG": str(workdir / "gcloud"), "NO_GCE_CHECK": "True",
                "DICOM_RESOLVER_HEALTHCARE_API_ROOT": emulator.api_root,
                "DICOM_RESOLVER_DICOM_STORE": emulator.store_path,
                "DICOM_RESOLVER_DATABASE_URL": f"sqlite:///{database}"})
    started = time.perf_counter()
    process = subprocess.Popen([CLI, "pull", "--since", "19000101", *extra], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    assert process.stdout is not None
    with process.stdout:
        summary = process.stdout.read().decode()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"pull failed: {summary}")
    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(instances)).scalar_one()
    engine.dispose()
    return {"seconds": elapsed, "peak_mib": usage.ru_maxrss / 1024,
            "cpu_seconds": usage.ru_utime + usage.ru_stime, "instances": stored}


def run(args: argparse.Namespace) -> str:
    rows = []
    notes = []
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as temp:
        workdir = Path(temp)
        data = workdir / "data"
        started = time.perf_counter()
        uids = generate(data, args.studies, args.instances)
        print(f"generated {args.studies} studies × {args.instances} instances in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        for latency in args.latency_ms:
            with EmulatorProcess(data, workdir, latency_ms=latency) as emulator:
                credentials = service_account.Credentials.from_service_account_file(
                    str(emulator.key_file), scopes=[HEALTHCARE_SCOPE])
                session = AuthorizedSession(credentials)
                warm_up(session, emulator, uids)
                base_seconds, size = baseline(session, emulator, uids)
                session.close()
                full = pull(emulator, workdir / f"full-{latency}.sqlite3", workdir, [])
                eighth = pull(emulator, workdir / f"eighth-{latency}.sqlite3", workdir,
                              ["--until", study_date(args.studies // 8 - 1)])
            expected = args.studies * args.instances
            assert full["instances"] == expected, (full, expected)
            assert eighth["instances"] == args.studies // 8 * args.instances, eighth
            base_rate = args.studies / base_seconds
            rate = args.studies / full["seconds"]
            rows.append(
                f"| {latency:g} | {base_rate:.1f} ({base_seconds:.1f} s) | "
                f"{rate:.1f} ({full['seconds']:.1f} s, {expected / full['seconds']:.0f} "
                f"instances/s) | **{rate / base_rate:.1f}×** | "
                f"{full['cpu_seconds'] / args.studies * 1000:.0f} ms | "
                f"{full['peak_mib']:.0f} MiB | {eighth['peak_mib']:.0f} MiB |")
            notes.append(f"{latency:g} ms: {rate / base_rate:.1f}× "
                         f"(target ≥ 4×: {'met' if rate / base_rate >= 4 else 'NOT met'})")
            print(rows[-1], flush=True)
        dump_mib = size / 2**20
    table = ("| added latency per request (ms) | baseline: sequential GET …/metadata, "
             "studies/s | pull (default concurrency 8), studies/s | ratio | pull CPU per "
             f"study | pull peak RSS ({args.studies} studies) | pull peak RSS "
             f"({args.studies // 8} studies) |\n|---|---|---|---|---|---|---|\n"
             + "\n".join(rows))
    description = (
        f"{args.studies} studies × {args.instances} instances (1 SR + CT slices; "
        f"{dump_mib:.0f} MiB of metadata JSON in all), stand-in (`dicom-resolver emulate`, "
        "own process, rendering cache warmed) on loopback with the latency added per "
        "request; `dicom-resolver pull` into a fresh SQLite store, timed end to end "
        "(process start, search, fetch, ingest); `python -m bench.imports`. "
        + "; ".join(notes) + ". Peak RSS of the pull does not grow with the size of the "
        "import (bounded by the studies in flight). The machine is shared by other "
        "engineers' work: read the same-run ratios, not the absolute rates.")
    return description + "\n\n" + table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[100.0, 0.0])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    print(machine(), flush=True)
    text = run(args)
    print(text)
    if not args.no_write:
        description, table = text.split("\n\n", 1)
        publish("Imports", description, table)


if __name__ == "__main__":
    main()
