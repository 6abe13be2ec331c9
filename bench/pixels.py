"""Per-slice latency of GET …/pixels beside same-run baselines, all against the emulator.

    .venv/bin/python -m bench.pixels [--rounds 5] [--no-write]

A 512×512 int16 CT series (make_study(StudySpec(n_slices=20))) is written to a
temporary folder and served by the Healthcare API emulator (`dicom-resolver
emulate`, its own process, so that it does not share the client's GIL) on
loopback. For each slice, in the same run, interleaved:

  plain    an AuthorizedSession GET of the emulator's bulkdata URL (the transfer limit)
  dwc      dicomweb-client retrieve_instance_frames + numpy conversion to HU
  service  GET /pixels (npy float32) from the service under gunicorn with the cache
           disabled (every request fetches from the emulator), then the array read
  int16    the same with dtype=int16: the same number of bytes as the plain GET
  cached   GET /pixels of one slice, repeated, from a second gunicorn with the cache on

Every HTTP body but dwc's is read the same way (read_body: one read of the whole
body, not requests' 10 KiB chunks). Warm-up requests are not timed.
Targets: service − plain ≤ 3 ms at p50 (uncached); cached ≤ 2 ms p50 end to end.
Writes the figures into bench/RESULTS.md's "Pixels" section unless --no-write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
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

from bench.common import stop_process  # noqa: E402
from dicom_resolver_testing.stack import free_port  # noqa: E402
from service.bulkdata.credentials import HEALTHCARE_SCOPE  # noqa: E402
from service.emulator.server import DEFAULT_STORE_PATH  # noqa: E402
from service.examples.factory import (  # noqa: E402
    StudySpec,
    make_dump,
    make_study,
    write_dicom_files,
)

RESULTS = ROOT / "bench" / "RESULTS.md"
# What Google (and the emulator) serve on the frames route: stored bytes, Explicit VR LE.
FRAME_MEDIA_TYPES = (("application/octet-stream", "1.2.840.10008.1.2.1"),)


class EmulatorProcess:
    """`dicom-resolver emulate` in its own process: its CPU does not compete for our GIL."""

    def __init__(self, data: Path, workdir: Path, latency_ms: float = 0) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.store_path = DEFAULT_STORE_PATH
        self.key_file = workdir / f"emulator-key-{self.url.rsplit(':', 1)[1]}.json"
        self.api_root = self.url
        cli = str(Path(sys.executable).with_name("dicom-resolver"))
        self._log = (workdir / "emulator.log").open("ab")
        self.process = subprocess.Popen(
            [cli, "emulate", "--data", str(data), "--port", self.url.rsplit(":", 1)[1],
             "--key-file", str(self.key_file), "--latency-ms", str(latency_ms)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.key_file.exists():
                try:
                    if requests.get(f"{self.url}/healthz", timeout=2).ok:
                        return
                except requests.RequestException:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the emulator did not start")

    def bulkdata_uri(self, study: str, series: str, sop: str) -> str:
        return (f"{self.url}/v1/{self.store_path}/dicomWeb/studies/{study}/series/{series}"
                f"/instances/{sop}/bulkdata/7FE00010")

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        stop_process(self.process, self._log)


def read_body(session: requests.Session, url: str, headers: dict[str, str] | None = None
              ) -> bytes:
    """The whole body in one read (requests' .content reads 10 KiB at a time)."""
    answer = session.get(url, headers=headers, stream=True)
    answer.raise_for_status()
    return b"".join(answer.iter_content(2**22))


def load_npy(body: bytes) -> np.ndarray:
    """A read-only array over the body of an .npy answer, without copying it."""
    stream = io.BytesIO(body)
    version = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
        else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read_header(stream)
    assert not fortran_order
    return np.frombuffer(body, dtype=dtype, count=int(np.prod(shape)),
                         offset=stream.tell()).reshape(shape)


def write_section(title: str, text: str) -> None:
    """Replace the "## {title} — …" section of RESULTS.md (or append it)."""
    lines = RESULTS.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(f"## {title} ")), None)
    if start is None:
        lines.append(text)
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        lines[start:end] = [text.lstrip("\n") + "\n"]
    RESULTS.write_text("".join(lines), encoding="utf-8")


def publish(title: str, description: str, table: str) -> None:
    """Write "## {title} — date", the machine, `description` and `table` into RESULTS.md."""
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    write_section(title, f"\n## {title} — {stamp}\n\n{machine()}. {description}\n\n{table}\n")
    print(f"written to {RESULTS}")


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
        stop_process(self.process, self._log)


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
    samples: dict[str, list[float]] = {"plain": [], "dwc": [], "service": [], "int16": [],
                                       "cached": []}
    with EmulatorProcess(workdir / "dicom", workdir) as emulator:
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
                                            ds.SOPInstanceUID)
                return read_body(authed, url,
                                 {"Accept": "application/octet-stream; transfer-syntax=*"})

            def via_dwc(ds) -> np.ndarray:  # type: ignore[no-untyped-def]
                frame = dwc.retrieve_instance_frames(ds.StudyInstanceUID, ds.SeriesInstanceUID,
                                                     ds.SOPInstanceUID, frame_numbers=[1],
                                                     media_types=FRAME_MEDIA_TYPES)[0]
                stored = np.frombuffer(frame, dtype="<i2").reshape(ds.Rows, ds.Columns)
                return (stored.astype(np.float32) * np.float32(ds.RescaleSlope)
                        + np.float32(ds.RescaleIntercept))

            def service(base: str, ds, dtype: str = "float32") -> np.ndarray:  # type: ignore[no-untyped-def]
                return load_npy(read_body(
                    http, f"{base}/v1/studies/{ds.StudyInstanceUID}/series/"
                          f"{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}/pixels"
                          f"?dtype={dtype}"))

            # Warm-up: tokens, connection pools, imports of the decoders in the workers.
            for ds in slices[:3]:
                plain(ds), via_dwc(ds), service(uncached.url, ds), service(cached.url, ds)
                service(uncached.url, ds, "int16")
            expected = via_dwc(slices[0])
            assert np.array_equal(service(uncached.url, slices[0]), expected)
            assert np.array_equal(service(uncached.url, slices[0], "int16"), expected)
            for _ in range(rounds):
                for ds in slices:
                    timed(samples["plain"], lambda ds=ds: plain(ds))
                    timed(samples["dwc"], lambda ds=ds: via_dwc(ds))
                    timed(samples["service"], lambda ds=ds: service(uncached.url, ds))
                    timed(samples["int16"], lambda ds=ds: service(uncached.url, ds, "int16"))
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
        "service": "service GET /pixels npy float32, uncached (fetch every time)",
        "int16": "service GET /pixels npy int16 (same bytes as plain), uncached",
        "cached": "service GET /pixels npy float32, cached slice repeated",
    }
    lines = ["| path | n | p50 ms | p95 ms |", "|---|---|---|---|"]
    for key, label in labels.items():
        p50, p95 = percentiles(samples[key])
        lines.append(f"| {label} | {len(samples[key])} | {p50:.2f} | {p95:.2f} |")
    plain = percentiles(samples["plain"])[0]
    overhead = percentiles(samples["service"])[0] - plain
    same_bytes = percentiles(samples["int16"])[0] - plain
    cached = percentiles(samples["cached"])[0]
    lines.append("")
    lines.append(f"Service overhead over the plain GET (p50): float32 {overhead:.2f} ms, int16 "
                 f"(same bytes) {same_bytes:.2f} ms (target ≤ 3 ms: "
                 f"{'met' if overhead <= 3 else 'NOT met'} for float32, "
                 f"{'met' if same_bytes <= 3 else 'NOT met'} for int16); cached slice p50 "
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
        publish("Pixels", "512×512 int16 CT slices (20), emulator (own process) and gunicorn "
                "(1 worker, 4 threads) on loopback, sequential requests, "
                f"{args.rounds} rounds, warm-up untimed.", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
