"""DICOMweb façade latency under gunicorn with 8 concurrent clients.

    .venv/bin/python bench/dicomweb.py [--requests 400] [--workers 2] [--no-write]

A store of 500 varied small studies (make_studies(500)) plus one 300-instance CT
study (make_ct_dump(300)) is ingested through POST /v1/dumps into gunicorn on a
temporary SQLite store. Then, per case, 8 client threads (one requests.Session
each) send `--requests` GETs in all; per-request wall times give p50/p95 and the
case's wall time requests/s:

  study search by PatientID, by StudyDate range, by PatientName wildcard,
  series in a study, instances in a series (300), and the study metadata of the
  300-instance study (≈ 3 MB of DICOM JSON, BulkDataURIs rewritten).

Targets: study search p50 ≤ 5 ms; 300-instance study metadata p50 ≤ 30 ms.
Also times the BulkDataURI rewrite alone on that metadata (in process).
Appends the figures to bench/RESULTS.md under "DICOMweb" unless --no-write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import gunicorn  # noqa: E402
from service.dicomweb.uris import rewrite_bulkdata_uris  # noqa: E402
from service.examples.factory import make_ct_dump, make_studies  # noqa: E402

CLIENTS = 8
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run_case(url: str, total: int, clients: int = CLIENTS) -> dict[str, float]:
    """`total` GETs of `url` from `clients` threads; per-request ms and overall requests/s."""
    timings: list[float] = []
    lock = threading.Lock()
    per_client = max(1, total // clients)
    headers: dict[str, str] = {}

    def client() -> None:
        session = requests.Session()
        session.get(url, headers=headers).raise_for_status()  # warm the connection
        mine = []
        for _ in range(per_client):
            started = time.perf_counter()
            answer = session.get(url, headers=headers)
            answer.raise_for_status()
            _ = answer.content
            mine.append((time.perf_counter() - started) * 1e3)
        with lock:
            timings.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"n": len(timings), "p50": statistics.median(timings),
            "p95": percentile(timings, 0.95), "rps": len(timings) / wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    studies = make_studies(500)
    big = make_ct_dump(300)
    study_uid = big[0]["0020000D"]["Value"][0]
    series_uid = big[0]["0020000E"]["Value"][0]
    patient_id = studies[42][0]["00100020"]["Value"][0]
    rows: list[tuple[str, dict[str, float]]] = []
    with gunicorn(args.workers, threads=4) as server:
        session = requests.Session()
        started = time.perf_counter()
        for dump in [*studies, big]:
            session.post(server.url + "/v1/dumps", data=orjson.dumps(dump),
                         headers={"Content-Type": "application/dicom+json"}).raise_for_status()
        print(f"ingested 501 studies in {time.perf_counter() - started:.1f} s", flush=True)
        base = server.url + "/dicomweb"
        cases = [
            ("study search by PatientID", f"{base}/studies?PatientID={patient_id}"),
            ("study search by StudyDate range", f"{base}/studies?StudyDate=20180101-20181231"),
            ("study search by PatientName wildcard", f"{base}/studies?PatientName=SMITH*"),
            ("series in a study", f"{base}/studies/{study_uid}/series"),
            ("instances in a series (300, limit 1000)",
             f"{base}/studies/{study_uid}/series/{series_uid}/instances?limit=1000"),
            ("study metadata, 300 instances", f"{base}/studies/{study_uid}/metadata"),
        ]
        for name, url in cases:
            count = len(session.get(url).content)
            alone = run_case(url, max(20, args.requests // 8), clients=1)
            rows.append((name, {**run_case(url, args.requests), "alone": alone["p50"]}))
            print(f"{name}: {rows[-1][1]} ({count} bytes)", flush=True)
        metadata = session.get(f"{base}/studies/{study_uid}/metadata").content
    stored = orjson.dumps(big)
    rewrites = []
    for _ in range(20):
        started = time.perf_counter()
        rewrite_bulkdata_uris(stored, "http://127.0.0.1:8080")
        rewrites.append((time.perf_counter() - started) * 1e3)
    rewrite_ms = statistics.median(rewrites)
    print(f"BulkDataURI rewrite of {len(stored)} bytes: {rewrite_ms:.2f} ms "
          f"(metadata answer {len(metadata)} bytes)")
    if not args.no_write:
        write_results(rows, args, rewrite_ms, len(metadata))
    return 0


def write_results(rows: list[tuple[str, dict[str, float]]], args: argparse.Namespace,
                  rewrite_ms: float, metadata_bytes: int) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [f"\n## DICOMweb — {dt.datetime.now():%Y-%m-%d %H:%M}\n",
             f"nproc {os.cpu_count()}, Python {platform.python_version()}, load average at the "
             f"end {load}. 500 small studies + one 300-instance CT study in SQLite, gunicorn "
             f"({args.workers} workers × 4 threads), {CLIENTS} concurrent clients, "
             f"{args.requests} requests per case.\n",
             "| request | n | p50 ms (8 clients) | p95 ms (8 clients) | requests/s (8 clients) "
             "| p50 ms (1 client) |", "|---|---|---|---|---|---|"]
    lines += [f"| {name} | {r['n']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['rps']:.0f} | "
              f"{r['alone']:.2f} |" for name, r in rows]
    study = max(r["alone"] for name, r in rows if name.startswith("study search"))
    meta = rows[-1][1]["alone"]
    lines.append(f"\nOne client at a time: study search p50 (worst of the three) {study:.2f} ms "
                 f"(target ≤ 5 ms: "
                 f"{'met' if study <= 5 else 'NOT met'}); study metadata p50 {meta:.2f} ms for "
                 f"{metadata_bytes} bytes (target ≤ 30 ms: {'met' if meta <= 30 else 'NOT met'}). "
                 f"BulkDataURI rewrite alone: {rewrite_ms:.2f} ms.\n")
    with RESULTS.open("a") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
