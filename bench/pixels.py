"""Per-slice latency of GET …/pixels beside same-run baselines, all against the emulator.

    .venv/bin/python bench/pixels.py [--rounds 5] [--no-write]

A 512×512 int16 CT series (make_study(StudySpec(n_slices=20))) is written to a
temporary folder and served by the Healthcare API emulator on loopback. For
each slice, in the same run, interleaved:

  plain    an AuthorizedSession GET of the emulator's bulkdata URL (the transfer limit)
  dwc      dicomweb-client retrieve_instance_frames + numpy conversion to HU
  service  GET /pixels (npy) from the service under gunicorn with the cache disabled
           (every request fetches from the emulator), then np.load
  cached   GET /pixels of one slice, repeated, from a second gunicorn with the cache on

Targets: service − plain ≤ 3 ms at p50 (uncached); cached ≤ 2 ms p50 end to end.
Appends the figures to bench/RESULTS.md under "Pixels" unless --no-write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import requests
from dicomweb_client.api import DICOMwebClient
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.bulkdata.auth import HEALTHCARE_SCOPE  # noqa: E402
from service.emulator.server import Emulator  # noqa: E402
from service.examples.factory import (  # noqa: E402
    StudySpec,
    make_dump,
    make_study,
    write_dicom_files,
)

RESULTS = ROOT / "bench" / "RESULTS.md"
# What Google (and the emulator) serve on the frames route: stored bytes, Explicit VR LE.
FRAME_MEDIA_TYPES = (("application/octet-stream", "1.2.840.10008.1.2.1"),)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """The service as a real gunicorn process on a free loopback port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [gunicorn, "--workers", "1", "--threads", "4", "--bind", self.url[7:],
             "service:create_app()"], cwd=ROOT, env={**os.environ, **env},
            stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not start; see {log_path}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def timed(samples: list[float], action: Callable[[], object]) -> object:
    started = time.perf_counter()
    result = action()
    samples.append((time.perf_counter() - started) * 1e3)
    return result


def percentiles(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"nproc {os.cpu_count()}, {model}, Python {platform.python_version()}, "
            f"load average at the end {load}")


def run(rounds: int, workdir: Path) -> dict[str, list[float]]:
    datasets = make_study(StudySpec(n_slices=20))
    slices = [ds for ds in datasets if ds.Modality == "CT"]
    write_dicom_files(datasets, workdir / "dicom")
    samples: dict[str, list[float]] = {"plain": [], "dwc": [], "service": [], "cached": []}
    with Emulator(workdir / "dicom") as emulator:
        env = {"DICOM_RESOLVER_DATABASE_URL": f"sqlite:///{workdir / 'store.sqlite3'}",
               "GOOGLE_APPLICATION_CREDENTIALS": str(emulator.key_file),
               "DICOM_RESOLVER_HEALTHCARE_API_ROOT": emulator.api_root,
               "DICOM_RESOLVER_LOG_LEVEL": "WARNING", "NO_GCE_CHECK": "True"}
        uncached = Gunicorn({**env, "DICOM_RESOLVER_PIXEL_CACHE_BYTES": "0"},
                            workdir / "uncached.log")
        cached = Gunicorn(env, workdir / "cached.log")
        try:
            http = requests.Session()
            http.trust_env = False
            ingest = http.post(f"{uncached.url}/v1/dumps", data=orjson.dumps(make_dump(datasets)),
                               headers={"Content-Type": "application/dicom+json"})
            ingest.raise_for_status()
            credentials = service_account.Credentials.from_service_account_file(
                str(emulator.key_file), scopes=[HEALTHCARE_SCOPE])
            authed = AuthorizedSession(credentials)
            authed.trust_env = False
            dwc = DICOMwebClient(url=f"{emulator.url}/v1/{emulator.store_path}/dicomWeb",
                                 session=authed)

            def plain(ds) -> bytes:  # type: ignore[no-untyped-def]
                url = emulator.bulkdata_uri(ds.StudyInstanceUID, ds.SeriesInstanceUID,
                                            ds.SOPInstanceUID, google=False)
                answer = authed.get(url, headers={
                    "Accept": "application/octet-stream; transfer-syntax=*"})
                answer.raise_for_status()
                return answer.content

            def via_dwc(ds) -> np.ndarray:  # type: ignore[no-untyped-def]
                frame = dwc.retrieve_instance_frames(ds.StudyInstanceUID, ds.SeriesInstanceUID,
                                                     ds.SOPInstanceUID, frame_numbers=[1],
                                                     media_types=FRAME_MEDIA_TYPES)[0]
                stored = np.frombuffer(frame, dtype="<i2").reshape(ds.Rows, ds.Columns)
                return (stored.astype(np.float32) * np.float32(ds.RescaleSlope)
                        + np.float32(ds.RescaleIntercept))

            def service(base: str, ds) -> np.ndarray:  # type: ignore[no-untyped-def]
                answer = http.get(f"{base}/v1/studies/{ds.StudyInstanceUID}/series/"
                                  f"{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}/pixels")
                answer.raise_for_status()
                return np.load(io.BytesIO(answer.content))

            # Warm-up: tokens, connection pools, imports of the decoders in the workers.
            for ds in slices[:3]:
                plain(ds), via_dwc(ds), service(uncached.url, ds), service(cached.url, ds)
            expected = via_dwc(slices[0])
            assert np.array_equal(service(uncached.url, slices[0]), expected)
            for _ in range(rounds):
                for ds in slices:
                    timed(samples["plain"], lambda ds=ds: plain(ds))
                    timed(samples["dwc"], lambda ds=ds: via_dwc(ds))
                    timed(samples["service"], lambda ds=ds: service(uncached.url, ds))
            one = slices[len(slices) // 2]
            service(cached.url, one)
            for _ in range(rounds * len(slices)):
                timed(samples["cached"], lambda: service(cached.url, one))
        finally:
            uncached.stop()
            cached.stop()
    return samples


def report(samples: dict[str, list[float]]) -> str:
    labels = {
        "plain": "plain authenticated GET of the bulkdata (transfer limit)",
        "dwc": "dicomweb-client frames + numpy HU",
        "service": "service GET /pixels npy, uncached (fetch every time)",
        "cached": "service GET /pixels npy, cached slice repeated",
    }
    lines = ["| path | n | p50 ms | p95 ms |", "|---|---|---|---|"]
    for key, label in labels.items():
        p50, p95 = percentiles(samples[key])
        lines.append(f"| {label} | {len(samples[key])} | {p50:.2f} | {p95:.2f} |")
    overhead = percentiles(samples["service"])[0] - percentiles(samples["plain"])[0]
    cached = percentiles(samples["cached"])[0]
    lines.append("")
    lines.append(f"Service overhead over the plain GET (p50): {overhead:.2f} ms "
                 f"(target ≤ 3 ms: {'met' if overhead <= 3 else 'NOT met'}); cached slice p50 "
                 f"{cached:.2f} ms (target ≤ 2 ms: {'met' if cached <= 2 else 'NOT met'}).")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pixels-") as workdir:
        samples = run(args.rounds, Path(workdir))
    table = report(samples)
    print(table)
    if not args.no_write:
        stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        section = (f"\n## Pixels — {stamp}\n\n{machine()}. 512×512 int16 CT slices (20), "
                   "emulator and gunicorn (1 worker, 4 threads) on loopback, sequential "
                   f"requests, {args.rounds} rounds.\n\n{table}\n")
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(section)
        print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
