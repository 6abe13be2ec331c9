"""Throughput under wrk (8 connections): requests/s, latency p50/p99 and server CPU/request.

    .venv/bin/python -m bench.throughput [--duration 5] [--runs 3] [--database-url URL]
                                         [--profile] [--no-write] [--only TEXT ...]

The service runs as it really runs: `dicom-resolver serve` (gunicorn with
gunicorn.conf.py: its workers, gthread threads, access log and JSON logs, to a file)
on a populated store: 200 varied small studies (make_studies), one 300-instance CT
study (make_ct_dump) and a 20-slice 512×512 CT study whose pixels the Healthcare API
emulator serves (its own process, as in bench/pixels.py). SQLite in a temporary
folder by default; with --database-url (PostgreSQL) a fresh schema, dropped at the end.
A second server with DICOM_RESOLVER_PIXEL_CACHE_BYTES=0 answers the uncached slice.

Per case: one warm-up wrk run, then `--runs` runs of `--duration` s with 8 connections
(2 wrk threads); medians of the runs are reported. Server CPU is user + system time of
the gunicorn master and its workers from /proc, before and after each run (a worker
recycled by max_requests is counted through the master's cutime/cstime), divided by the
requests wrk completed. Same-run floors: /healthz of the service, and a WSGI hello
(bench.throughput:hello) under the same gunicorn.conf.py: the per-request cost of the
stack (gunicorn + logging) with no application in it.

With --profile, py-spy (pip install py-spy into the venv; not a project dependency)
samples one worker while wrk loads /healthz and the QIDO study search, and prints the
share of samples per package (leaf frame) and the top functions (inclusive). That server
is `gunicorn -c gunicorn.conf.py --max-requests 0 'service:create_app()'` (the same config
with worker recycling off, so that the profiled worker lives through the recording).
With --only, just the cases whose name contains one of the given texts (case-insensitive)
are measured, and nothing is written (a partial table is no section of RESULTS.md).
wrk is a Debian package (`apt-get install wrk`); without it the bench says so and stops.
Benches are not tests: `make test` and CI never run this.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    Server,
    machine,
    median,
    postgres_schema,
    stop_process,
)
from bench.pixels import EmulatorProcess, write_section  # noqa: E402
from dicom_resolver_testing.stack import free_port  # noqa: E402
from service.examples.factory import (  # noqa: E402
    StudySpec,
    make_ct_dump,
    make_dump,
    make_studies,
    make_study,
    write_dicom_files,
)

CONNECTIONS = 8
WRK_THREADS = 2
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


def hello(environ: dict, start_response) -> list[bytes]:  # type: ignore[no-untyped-def]
    """The floor of the stack: a WSGI app that does nothing, under the same gunicorn config."""
    body = b'{"status":"ok"}'
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


@dataclass
class WrkRun:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    errors: int


def server_cpu_seconds(server: Server) -> float:
    """CPU (user + system) of the master, its live workers and its reaped workers, in s."""
    total = 0
    for pid in server.worker_pids():
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    fields = Path(f"/proc/{server.master_pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime, stime, then cutime, cstime: workers the master has reaped (max_requests).
    total += sum(int(value) for value in fields[11:15])
    return total / TICKS


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _duration_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS_MS[unit]


def parse_wrk(output: str) -> tuple[int, float, float, float, int]:
    """requests, requests/s, p50 ms, p99 ms, non-2xx/3xx + socket errors of wrk --latency."""
    requests_done = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _duration_ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _duration_ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    for found in re.findall(r"Socket errors: (.*)", output):
        errors += sum(int(n) for n in re.findall(r"\d+", found))
    return requests_done, rps, p50, p99, errors


def wrk(url: str, duration: float, server: Server) -> WrkRun:
    before = server_cpu_seconds(server)
    done = subprocess.run(
        ["wrk", "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{duration:g}s",
         "--latency", url], capture_output=True, text=True, check=True)
    cpu = server_cpu_seconds(server) - before
    count, rps, p50, p99, errors = parse_wrk(done.stdout)
    return WrkRun(count, rps, p50, p99, cpu * 1e3 / max(count, 1), errors)


@contextlib.contextmanager
def served(command: list[str], env: dict[str, str], log_path: Path,
           ready_path: str = "/healthz") -> Iterator[Server]:
    """A gunicorn master started by `command` (with {port}) in the repository root."""
    port = free_port()
    log = log_path.open("wb")
    process = subprocess.Popen([part.format(port=port) for part in command], cwd=ROOT,
                               env={**os.environ, **env}, stdout=log, stderr=log)
    server = Server(f"http://127.0.0.1:{port}", process.pid, log_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(server.url + ready_path, timeout=2).ok:
                    break
            time.sleep(0.2)
        yield server
    finally:
        stop_process(process, log, timeout=30)


def service_command() -> list[str]:
    """What `make run` runs (dicom-resolver serve reads gunicorn.conf.py from the cwd)."""
    return [str(BIN / "dicom-resolver"), "serve", "--host", "127.0.0.1", "--port", "{port}",
            "--no-demo"]


def hello_command() -> list[str]:
    return [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:{port}",
            "bench.throughput:hello"]


def populate(url: str, dumps: Iterable[list[dict]]) -> None:
    session = requests.Session()
    for dump in dumps:
        session.post(url + "/v1/dumps", data=orjson.dumps(dump),
                     headers={"Content-Type": "application/dicom+json"}).raise_for_status()


def selected(name: str, args: argparse.Namespace) -> bool:
    """Whether --only (if given) asks for the case called `name`."""
    return not args.only or any(text.lower() in name.lower() for text in args.only)


def measure(name: str, url: str, server: Server, args: argparse.Namespace,
            results: dict[str, dict[str, float]]) -> None:
    if not selected(name, args):
        return
    answer = requests.get(url, timeout=60)
    answer.raise_for_status()
    wrk(url, 1, server)  # warm-up: connections, caches, lazy imports
    runs = [wrk(url, args.duration, server) for _ in range(args.runs)]
    load = os.getloadavg()[0]
    row = {"rps": median([r.rps for r in runs]), "p50": median([r.p50_ms for r in runs]),
           "p99": median([r.p99_ms for r in runs]),
           "cpu": median([r.cpu_ms_per_request for r in runs]),
           "requests": sum(r.requests for r in runs), "errors": sum(r.errors for r in runs),
           "bytes": len(answer.content), "load": load}
    results[name] = row
    print(f"{name}: {row['rps']:.0f} req/s, p50 {row['p50']:.2f} ms, p99 {row['p99']:.2f} ms, "
          f"CPU {row['cpu']:.2f} ms/req ({row['requests']} requests, {row['errors']} errors, "
          f"{row['bytes']} bytes, load {load:.1f})", flush=True)


def profile(name: str, url: str, server: Server, seconds: float, out: Path) -> str:
    """py-spy samples one worker while wrk loads `url`; a summary of where the time goes.

    Two recorders at once: every non-idle thread (wall time, includes threads blocked in
    socket writes, which py-spy does not always see as idle), and with --gil only the
    thread holding the GIL (≈ the Python CPU time of the worker)."""
    spy = BIN / "py-spy"
    if not spy.exists():
        return f"{name}: py-spy not installed (.venv/bin/pip install py-spy)"
    worker = server.worker_pids()[0]
    stem = re.sub(r"[^a-z]+", "-", name.lower())
    outputs = {"non-idle threads": out / f"{stem}.txt", "GIL holder": out / f"{stem}-gil.txt"}
    recorders = [subprocess.Popen(
        [str(spy), "record", "--pid", str(worker), "--duration", f"{seconds + 2:g}",
         "--rate", "200", "--format", "raw", "--output", str(path), "--nonblocking",
         *(["--gil"] if kind == "GIL holder" else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for kind, path in outputs.items()]
    time.sleep(1)
    wrk(url, seconds, server)
    for recorder in recorders:
        recorder.wait(timeout=seconds + 60)
    return "\n\n".join(summarize_profile(f"{name}, {kind}", path.read_text())
                       for kind, path in outputs.items())


PACKAGES = (("sqlalchemy", "SQLAlchemy"), ("psycopg", "psycopg driver"),
            ("sqlite3/", "sqlite3 driver"), ("werkzeug", "Werkzeug"), ("flask", "Flask"),
            ("gunicorn", "gunicorn"), ("logging", "logging"), ("orjson", "orjson"),
            ("prometheus_client", "prometheus_client"), ("/service/", "service (own code)"),
            ("selectors", "selectors/socket"), ("socket", "selectors/socket"),
            ("threading", "threading"), ("concurrent", "threading"), ("json", "json"))


def without_line(frame: str) -> str:
    """`func (path/file.py:12)` → `func (path/file.py)`: a function, whatever its line."""
    return re.sub(r":\d+\)$", ")", frame)


def package_of(frame: str) -> str:
    path = "/" + without_line(frame).rsplit("(", 1)[-1].rstrip(")")
    for marker, label in PACKAGES:
        if marker in path:
            return label
    return "other: " + path.rsplit("/", 1)[-1]


def summarize_profile(name: str, collapsed: str) -> str:
    """Shares of samples by package (leaf frame; anywhere on the stack), top functions."""
    by_package: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    package_inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        by_package[package_of(frames[-1])] += count
        for function in {without_line(frame) for frame in frames}:
            inclusive[function] += count
        for package in {package_of(frame) for frame in frames}:
            package_inclusive[package] += count
    if not total:
        return f"{name}: no samples"
    lines = [f"#### {name}: {total} samples of one worker",
             "", "Self time by package (leaf frame): " + ", ".join(
                 f"{label} {count / total:.0%}" for label, count in by_package.most_common(12)),
             "", "Samples with the package anywhere on the stack: " + ", ".join(
                 f"{label} {count / total:.0%}"
                 for label, count in package_inclusive.most_common(12)),
             "", "Top functions, inclusive share:", ""]
    skip = ("<module>", "Thread.", "_worker (concurrent", "_WorkItem.run",
            "run (gunicorn", "run_for_one", "run (threading", "_bootstrap",
            "worker (concurrent", "init_process", "spawn_worker", "spawn_workers",
            "manage_workers", "main (", "start (gunicorn", "run (dicom", "serve (")
    shown = 0
    for frame, count in inclusive.most_common():
        if any(frame.startswith(prefix) for prefix in skip):
            continue
        lines.append(f"- {count / total:.0%} `{frame}`")
        shown += 1
        if shown == 25:
            break
    return "\n".join(lines)


def run(args: argparse.Namespace, workdir: Path, database_url: str
        ) -> tuple[dict[str, dict[str, float]], list[str]]:
    studies = make_studies(200)
    big = make_ct_dump(300)
    pixel_datasets = make_study(StudySpec(n_slices=20))
    write_dicom_files(pixel_datasets, workdir / "dicom")
    one = [ds for ds in pixel_datasets if ds.Modality == "CT"][10]
    results: dict[str, dict[str, float]] = {}
    profiles: list[str] = []
    with EmulatorProcess(workdir / "dicom", workdir) as emulator:
        env = {"DICOM_RESOLVER_DATABASE_URL": database_url,
               "DICOM_RESOLVER_MIGRATE_ON_START": "true",
               "GOOGLE_APPLICATION_CREDENTIALS": str(emulator.key_file),
               "DICOM_RESOLVER_HEALTHCARE_API_ROOT": emulator.api_root,
               "NO_GCE_CHECK": "True"}
        with served(hello_command(), env, workdir / "hello.log") as floor:
            if not args.profile_only:
                measure("floor: WSGI hello under the same gunicorn config", floor.url + "/",
                        floor, args, results)
        with served(service_command(), env, workdir / "service.log") as server:
            started = time.perf_counter()
            populate(server.url, [*studies, big, make_dump(pixel_datasets)])
            print(f"ingested {len(studies) + 2} studies in {time.perf_counter() - started:.1f} s")
            patient_name = studies[42][0]["00100010"]["Value"][0]["Alphabetic"].split("^")[0]
            study_uid = big[0]["0020000D"]["Value"][0]
            pixels = (f"{server.url}/v1/studies/{one.StudyInstanceUID}/series/"
                      f"{one.SeriesInstanceUID}/instances/{one.SOPInstanceUID}/pixels")
            qido = f"{server.url}/dicomweb/studies?PatientName={patient_name}*"
            cases = [
                ("floor: GET /healthz", f"{server.url}/healthz"),
                ("QIDO study search (PatientName wildcard)", qido),
                ("/v1/studies search (PatientName wildcard)",
                 f"{server.url}/v1/studies?PatientName={patient_name}*"),
                ("pixels, cached slice (512² float32 npy)", pixels),
                ("study metadata, 300 instances", f"{server.url}/dicomweb/studies/{study_uid}"
                                                  "/metadata"),
            ]
            for name, url in [] if args.profile_only else cases:
                measure(name, url, server, args, results)
        if args.profile or args.profile_only:
            # The same app and gunicorn.conf.py, with worker recycling (max_requests) off:
            # otherwise the profiled worker is replaced in the middle of the recording.
            with served([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind",
                         "127.0.0.1:{port}", "--max-requests", "0", "service:create_app()"],
                        env, workdir / "profiled.log") as profiled:
                profile_dir = workdir / "profiles"
                profile_dir.mkdir()
                for name, url in cases[:2]:
                    profiles.append(profile(name, url.replace(server.url, profiled.url),
                                            profiled, args.profile_seconds, profile_dir))
                    print(profiles[-1], flush=True)
        uncached_name = "pixels, uncached slice (fetched from the emulator every time)"
        if args.profile_only or not selected(uncached_name, args):
            return results, profiles
        with served(service_command(), {**env, "DICOM_RESOLVER_PIXEL_CACHE_BYTES": "0"},
                    workdir / "uncached.log") as uncached:
            measure(uncached_name, pixels.replace(server.url, uncached.url), uncached, args,
                    results)
    return results, profiles


def report(results: dict[str, dict[str, float]]) -> str:
    lines = ["| request | requests/s | p50 ms | p99 ms | server CPU ms/request | requests "
             "(errors) | bytes | load (1 min) |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                     f"{r['cpu']:.2f} | {r['requests']:,} ({r['errors']}) | {r['bytes']:,} | "
                     f"{r['load']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", help="PostgreSQL server URL (a fresh schema is used)")
    parser.add_argument("--profile", action="store_true", help="py-spy one worker")
    parser.add_argument("--profile-seconds", type=float, default=15.0)
    parser.add_argument("--profile-only", action="store_true",
                        help="only the profiles (printed, not written)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--only", nargs="+", metavar="TEXT",
                        help="measure only the cases whose name contains one of these")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk (Debian); nothing measured")
        return 0
    info = machine()
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as folder:
        workdir = Path(folder)
        with postgres_schema(args.database_url) if args.database_url else \
                contextlib.nullcontext(f"sqlite:///{workdir / 'store.sqlite3'}") as url:
            results, profiles = run(args, workdir, url)
    table = report(results)
    print(table)
    if not args.no_write and not args.profile_only and not args.only:
        backend = "PostgreSQL" if args.database_url else "SQLite"
        title = f"Throughput (wrk, {backend})"
        command_tail = " --database-url …" if args.database_url else ""
        pg_note = ("; PostgreSQL's own backend CPU is not in it (a separate server)"
                   if args.database_url else "")
        end_load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        text = (f"\n## {title} — {dt.datetime.now():%Y-%m-%d %H:%M}\n\n"
                f"nproc {info['nproc']} ({info['cpu']}, {info['memory']}), Python "
                f"{info['python']}, load average at the start {info['load average at start']}"
                f", at the end {end_load}; the last column is the 1-minute load after each "
                f"case. `python -m bench.throughput{command_tail}`"
                f": `dicom-resolver serve` (gunicorn.conf.py as shipped) on {backend}, wrk "
                f"{CONNECTIONS} connections / {WRK_THREADS} threads, median of {args.runs} "
                f"runs of {args.duration:g} s after a 1 s warm-up. Server CPU = utime + stime "
                f"of master and workers (/proc) / requests{pg_note}.\n\n{table}\n")
        if profiles:
            text += "\n### Profiles (py-spy, one worker)\n\n" + "\n\n".join(profiles) + "\n"
        write_section(title, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
