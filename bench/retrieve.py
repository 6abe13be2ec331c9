"""WADO-RS retrieve of the 24-slice example study beside same-run baselines, against the emulator.

    .venv/bin/python -m bench.retrieve [--rounds 5] [--latency 20 --latency 0] [--no-write]

The shipped example study (1 SR report + 24 CT slices of 512×512, 25 .dcm files) is served by
the Healthcare API emulator (`dicom-resolver emulate`, its own process) on loopback. In the
same run, interleaved, each timed end to end (whole body received):

  direct seq   the 25 .dcm files straight from the emulator's instance retrieve, one after
               the other (Accept: application/dicom; transfer-syntax=*)
  direct 8     the same with 8 threads (the service's RETRIEVE_FETCH_CONCURRENCY)
  service *    GET /dicomweb/studies/{study}, multipart/related; type="application/dicom";
               transfer-syntax=* from gunicorn (1 worker × 4 threads)
  service LE   the same with the default Accept (Explicit VR Little Endian; the example is
               stored so, so the bytes pass through)
  dwc          dicomweb-client's retrieve_study (parses every part with pydicom)

Before timing, the service's parts are checked byte for byte against the files. CPU seconds
of the emulator, the gunicorn worker and this client are reported per path. Writes the
"Retrieve" section of bench/RESULTS.md unless --no-write.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pixels import EmulatorProcess, Gunicorn, publish, read_body  # noqa: E402
from volume import cpu_seconds, worker_pid  # noqa: E402

from service.bulkdata.credentials import HEALTHCARE_SCOPE  # noqa: E402
from service.bulkdata.multipart_reader import parse_multipart  # noqa: E402
from service.cli.demo import write_example_files  # noqa: E402
from service.examples.shipped import EXAMPLE_DUMP_PATH  # noqa: E402

AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*'
KEYS = ("direct seq", "direct 8", "service *", "service LE", "dwc")


def measure(folder: Path, latency_ms: float, rounds: int, workdir: Path) -> dict[str, object]:
    files = {str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID): path
             for path in sorted(folder.glob("*.dcm"))}
    first = pydicom.dcmread(next(iter(files.values())), stop_before_pixels=True)
    study = str(first.StudyInstanceUID)
    keys = {sop: pydicom.dcmread(path, stop_before_pixels=True) for sop, path in files.items()}
    total_bytes = sum(path.stat().st_size for path in files.values())
    times: dict[str, list[float]] = {key: [] for key in KEYS}
    cpu: dict[str, list[tuple[float, float, float]]] = {key: [] for key in KEYS}
    with EmulatorProcess(folder, workdir, latency_ms=latency_ms) as emulator:
        env = {"DICOM_RESOLVER_DATABASE_URL": f"sqlite:///{workdir / f'store{latency_ms}.db'}",
               "GOOGLE_APPLICATION_CREDENTIALS": str(emulator.key_file),
               "DICOM_RESOLVER_HEALTHCARE_API_ROOT": emulator.api_root,
               "DICOM_RESOLVER_LOG_LEVEL": "WARNING", "NO_GCE_CHECK": "True"}
        server = Gunicorn(env, workdir / f"gunicorn{latency_ms}.log")
        try:
            http = requests.Session()
            http.trust_env = False
            http.post(f"{server.url}/v1/dumps", data=EXAMPLE_DUMP_PATH.read_bytes(),
                      headers={"Content-Type": "application/dicom+json"}).raise_for_status()
            credentials = service_account.Credentials.from_service_account_file(
                str(emulator.key_file), scopes=[HEALTHCARE_SCOPE])
            authed = AuthorizedSession(credentials)
            authed.trust_env = False
            authed.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=16))
            dwc = DICOMwebClient(url=f"{server.url}/dicomweb")

            def instance_url(sop: str) -> str:
                ds = keys[sop]
                return (f"{emulator.url}/v1/{emulator.store_path}/dicomWeb/studies/{study}"
                        f"/series/{ds.SeriesInstanceUID}/instances/{sop}")

            def direct_one(sop: str) -> int:
                return len(read_body(authed, instance_url(sop),
                                     {"Accept": "application/dicom; transfer-syntax=*"}))

            def direct(threads: int) -> Callable[[], int]:
                def run() -> int:
                    if threads == 1:
                        return sum(direct_one(sop) for sop in files)
                    with ThreadPoolExecutor(threads) as pool:
                        return sum(pool.map(direct_one, files))
                return run

            def service(accept: str | None) -> Callable[[], bytes]:
                def run() -> bytes:
                    headers = {"Accept": accept} if accept else {}
                    return read_body(http, f"{server.url}/dicomweb/studies/{study}", headers)
                return run

            def via_dwc() -> int:
                return len(dwc.retrieve_study(study))

            # Warm-up: tokens, pools; and the service must send exactly the stored files.
            body = requests.get(f"{server.url}/dicomweb/studies/{study}",
                                headers={"Accept": AS_STORED})
            parts = parse_multipart(body.content, body.headers["Content-Type"])
            sent = {str(pydicom.dcmread(io.BytesIO(bytes(part.body)), stop_before_pixels=True)
                        .SOPInstanceUID): bytes(part.body) for part in parts}
            assert sent == {sop: path.read_bytes() for sop, path in files.items()}, \
                "the service's parts differ from the stored files"
            assert direct(8)() == total_bytes
            assert via_dwc() == len(files)
            actions = {"direct seq": direct(1), "direct 8": direct(8),
                       "service *": service(AS_STORED), "service LE": service(None),
                       "dwc": via_dwc}
            for _ in range(rounds):
                for key in KEYS:
                    pids = (emulator.process.pid, worker_pid(server.process.pid), None)
                    before = [cpu_seconds(pid) for pid in pids]
                    started = time.perf_counter()
                    actions[key]()
                    times[key].append(time.perf_counter() - started)
                    cpu[key].append(tuple(cpu_seconds(pid) - was  # type: ignore[misc]
                                          for pid, was in zip(pids, before, strict=True)))
        finally:
            server.stop()
    return {"times": {k: statistics.median(v) for k, v in times.items()},
            "cpu": {k: [statistics.median(run[i] for run in v) for i in range(3)]
                    for k, v in cpu.items()},
            "mib": total_bytes / 2**20, "files": len(files)}


def report(results: dict[float, dict]) -> str:
    lines = ["| injected latency | " + " | ".join(f"{key} s" for key in KEYS)
             + " | service * / direct 8 | service * / direct seq | MiB |",
             "|---" * (len(KEYS) + 4) + "|"]
    for latency, result in results.items():
        t = result["times"]
        lines.append(f"| {latency:g} ms | " + " | ".join(f"{t[key]:.3f}" for key in KEYS)
                     + f" | {t['service *'] / t['direct 8']:.2f}× | "
                       f"{t['service *'] / t['direct seq']:.2f}× | {result['mib']:.1f} |")
    lines += ["", "CPU seconds per path (medians): emulator / service worker / client.", "",
              "| injected latency | " + " | ".join(KEYS) + " |", "|---" * (len(KEYS) + 1) + "|"]
    for latency, result in results.items():
        lines.append(f"| {latency:g} ms | " + " | ".join(
            "{:.2f} / {:.2f} / {:.2f}".format(*result["cpu"][key]) for key in KEYS) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency", type=float, action="append",
                        help="injected latency in ms (repeatable; default 20 then 0)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-retrieve-") as name:
        workdir = Path(name)
        write_example_files(workdir / "dicom")
        results = {latency: measure(workdir / "dicom", latency, args.rounds, workdir)
                   for latency in (args.latency or (20.0, 0.0))}
    table = report(results)
    print(table)
    if not args.no_write:
        first = next(iter(results.values()))
        publish("Retrieve", f"WADO-RS retrieve of the example study ({first['files']} files, "
                f"{first['mib']:.1f} MiB: 1 SR + 24 CT 512×512), emulator (own process) on "
                "loopback, gunicorn 1 worker × 4 threads, retrieve_fetch_concurrency 8; medians "
                f"of {args.rounds} rounds after a warm-up; parts checked byte-exact first. "
                "Other engineers' test runs shared the 2 cores: figures are noisy.", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
