"""A 300-slice series volume from the service beside same-run baselines, against the emulator.

    .venv/bin/python -m bench.volume [--slices 300] [--rounds 3] [--no-write]

A 512×512 int16 CT series (make_study(StudySpec(n_slices=300))) is served by the Healthcare
API emulator (`dicom-resolver emulate`, its own process) on loopback, with 20 ms injected
latency per request, then with none. In the same run, interleaved, each timed end to end:

  dwc      sequential dicomweb-client retrieve_instance_frames per slice + numpy HU (the usual way)
  raw      the same bytes through an AuthorizedSession with 16 threads, no decoding (the floor)
  service  GET …/volume (npy, float32) from gunicorn (1 worker, 4 threads, payload cache off),
           into a numpy array over the received bytes
  int16    GET …/volume?dtype=int16

raw and service read each body the same way (bench.pixels.read_body: large reads, not
requests' 10 KiB chunks); warm-up rounds are not timed.

Targets at 20 ms: service ≥ 5× faster than dwc and ≤ 1.5× raw; at 0 ms: ≤ 2× raw. The
gunicorn worker's peak RSS (VmHWM) is reported beside the float32 volume size.
Writes the figures into bench/RESULTS.md's "Volumes" section unless --no-write.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import orjson
import requests
from dicomweb_client.api import DICOMwebClient
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pixels import (  # noqa: E402
    FRAME_MEDIA_TYPES,
    EmulatorProcess,
    Gunicorn,
    load_npy,
    publish,
    read_body,
)

from bench.common import cpu_ticks  # noqa: E402
from service.bulkdata.credentials import HEALTHCARE_SCOPE  # noqa: E402
from service.examples.factory import (  # noqa: E402
    StudySpec,
    make_dump,
    make_study,
    write_dicom_files,
)


def worker_pid(master_pid: int) -> int:
    """gunicorn's worker: the master's only child."""
    return int(Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()[0])


def peak_rss_mib(master_pid: int) -> float:
    """VmHWM of gunicorn's worker, in MiB."""
    for line in Path(f"/proc/{worker_pid(master_pid)}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (all its threads); None: this process."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    return cpu_ticks(pid) / os.sysconf("SC_CLK_TCK")


def measure(folder: Path, datasets: list, latency_ms: float, rounds: int,
            workdir: Path) -> dict[str, object]:
    slices = [ds for ds in datasets if ds.Modality == "CT"]
    study, series = slices[0].StudyInstanceUID, slices[0].SeriesInstanceUID
    times: dict[str, list[float]] = {"dwc": [], "raw": [], "service": [], "int16": []}
    # CPU seconds of the emulator, the gunicorn worker and this client, per path.
    cpu: dict[str, list[tuple[float, float, float]]] = {key: [] for key in times}
    sizes: dict[str, int] = {}
    with EmulatorProcess(folder, workdir, latency_ms=latency_ms) as emulator:
        env = {"DICOM_RESOLVER_DATABASE_URL": f"sqlite:///{workdir / f'store{latency_ms}.db'}",
               "GOOGLE_APPLICATION_CREDENTIALS": str(emulator.key_file),
               "DICOM_RESOLVER_HEALTHCARE_API_ROOT": emulator.api_root,
               "DICOM_RESOLVER_PIXEL_CACHE_BYTES": "0",  # every round fetches upstream
               "DICOM_RESOLVER_LOG_LEVEL": "WARNING", "NO_GCE_CHECK": "True"}
        server = Gunicorn(env, workdir / f"gunicorn{latency_ms}.log")
        try:
            http = requests.Session()
            http.trust_env = False
            http.post(f"{server.url}/v1/dumps", data=orjson.dumps(make_dump(datasets)),
                      headers={"Content-Type": "application/dicom+json"}).raise_for_status()
            credentials = service_account.Credentials.from_service_account_file(
                str(emulator.key_file), scopes=[HEALTHCARE_SCOPE])
            authed = AuthorizedSession(credentials)
            authed.trust_env = False
            authed.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=32))
            dwc = DICOMwebClient(url=f"{emulator.url}/v1/{emulator.store_path}/dicomWeb",
                                 session=authed)

            def via_dwc() -> np.ndarray:
                out = []
                for ds in slices:  # the usual loop, in InstanceNumber order
                    frame = dwc.retrieve_instance_frames(
                        study, series, ds.SOPInstanceUID, frame_numbers=[1],
                        media_types=FRAME_MEDIA_TYPES)[0]
                    stored = np.frombuffer(frame, dtype="<i2").reshape(ds.Rows, ds.Columns)
                    out.append(stored.astype(np.float32) * np.float32(ds.RescaleSlope)
                               + np.float32(ds.RescaleIntercept))
                return np.stack(out)

            def raw() -> int:
                def one(ds) -> int:  # type: ignore[no-untyped-def]
                    url = emulator.bulkdata_uri(study, series, ds.SOPInstanceUID)
                    return len(read_body(authed, url, {
                        "Accept": "application/octet-stream; transfer-syntax=*"}))
                with ThreadPoolExecutor(16) as pool:
                    return sum(pool.map(one, slices))

            def service(dtype: str) -> np.ndarray:
                body = read_body(http, f"{server.url}/v1/studies/{study}/series/{series}"
                                       f"/volume?dtype={dtype}")
                sizes[dtype] = len(body)
                return load_npy(body)

            # Warm-up: tokens, pools, decoders; and the answers must agree.
            volume = service("float32")
            reference = via_dwc()
            order = np.argsort([float(ds.ImagePositionPatient[2]) for ds in slices])
            assert np.array_equal(volume, reference[order]), "service and dwc disagree"
            raw()
            for _ in range(rounds):
                for key, action in (("dwc", via_dwc), ("raw", raw),
                                    ("service", lambda: service("float32")),
                                    ("int16", lambda: service("int16"))):
                    pids = (emulator.process.pid, worker_pid(server.process.pid), None)
                    before = [cpu_seconds(pid) for pid in pids]
                    started = time.perf_counter()
                    action()
                    times[key].append(time.perf_counter() - started)
                    cpu[key].append(tuple(cpu_seconds(pid) - was  # type: ignore[misc]
                                          for pid, was in zip(pids, before, strict=True)))
            peak = peak_rss_mib(server.process.pid)
        finally:
            server.stop()
    return {"times": {k: statistics.median(v) for k, v in times.items()}, "sizes": sizes,
            "cpu": {k: [statistics.median(run[i] for run in v) for i in range(3)]
                    for k, v in cpu.items()},
            "peak_rss_mib": peak, "volume_mib": volume.nbytes / 2**20}


def report(results: dict[float, dict]) -> str:
    lines = ["| injected latency | dwc sequential s | raw 16 threads s | service npy f32 s | "
             "service int16 s | service vs dwc | service / raw | f32 MiB | int16 MiB | "
             "worker peak RSS MiB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for latency, result in results.items():
        t, sizes = result["times"], result["sizes"]
        lines.append(
            f"| {latency:g} ms | {t['dwc']:.2f} | {t['raw']:.2f} | {t['service']:.2f} | "
            f"{t['int16']:.2f} | {t['dwc'] / t['service']:.1f}× | "
            f"{t['service'] / t['raw']:.2f}× | {sizes['float32'] / 2**20:.0f} | "
            f"{sizes['int16'] / 2**20:.0f} | {result['peak_rss_mib']:.0f} |")
    lines += ["", "CPU seconds per path (medians): emulator / service worker / client.", "",
              "| injected latency | " + " | ".join(KEYS) + " |", "|---|---|---|---|---|"]
    for latency, result in results.items():
        lines.append(f"| {latency:g} ms | " + " | ".join(
            "{:.2f} / {:.2f} / {:.2f}".format(*result["cpu"][key]) for key in KEYS) + " |")
    return "\n".join(lines)


KEYS = ("dwc", "raw", "service", "int16")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, action="append",
                        help="injected latency in ms (repeatable; default 20 then 0)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-volume-") as name:
        workdir = Path(name)
        datasets = make_study(StudySpec(n_slices=args.slices, with_report=False,
                                        shuffle_instance_numbers=True))
        write_dicom_files(datasets, workdir / "dicom")
        results = {latency: measure(workdir / "dicom", datasets, latency, args.rounds, workdir)
                   for latency in (args.latency or (20.0, 0.0))}
    table = report(results)
    print(table)
    if not args.no_write:
        publish("Volumes", f"{args.slices} slices 512×512 int16 CT (InstanceNumbers shuffled), "
                "emulator (own process) on loopback, gunicorn 1 worker × 4 threads, payload "
                "cache off, volume_fetch_concurrency 16; medians of "
                f"{args.rounds} rounds after a warm-up.", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
