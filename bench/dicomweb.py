"""DICOMweb façade latency under gunicorn with 8 concurrent clients.

    .venv/bin/python -m bench.dicomweb [--requests 400] [--workers 2] [--no-write]

A store of 500 varied small studies (make_studies(500)) plus one 300-instance CT
study (make_ct_dump(300)) is ingested through POST /v1/dumps into gunicorn on a
temporary SQLite store. Then, per case, 8 client threads (one requests.Session
each) send `--requests` GETs in all; per-request wall times give p50/p95 and the
case's wall time requests/s:

  study search by PatientID, by StudyDate range, by PatientName wildcard,
  series in a study, instances in a series (300), and the study metadata of the
  300-instance study (≈ 3 MB of DICOM JSON, BulkDataURIs rewritten).

The same-run baseline is GET /healthz (the machine may be shared: latencies are
also given as ratios to it), and the metadata is asked again with If-None-Match
(answered 304). Targets: study search p50 ≤ 5 ms; 300-instance study metadata
p50 ≤ 30 ms. Also times the BulkDataURI rewrite alone on that metadata (in
process). Replaces the "DICOMweb" section of bench/RESULTS.md (keeping its
"### " notes) unless --no-write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import gunicorn, machine, percentile, run_threads  # noqa: E402
from service.dicomweb.uris import rewrite_bulkdata_uris  # noqa: E402
from service.examples.factory import make_ct_dump, make_studies  # noqa: E402

CLIENTS = 8
BASELINE = "baseline: GET /healthz"
READ_CHUNK = 1 << 20
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def run_case(url: str, total: int, clients: int = CLIENTS,
             headers: dict[str, str] | None = None) -> dict[str, float]:
    """`total` GETs of `url` from `clients` threads; per-request ms and overall requests/s."""
    timings: list[float] = []
    lock = threading.Lock()
    per_client = max(1, total // clients)
    headers = headers or {}

    def client() -> None:
        session = requests.Session()
        session.get(url, headers=headers).raise_for_status()  # warm the connection
        mine = []
        for _ in range(per_client):
            started = time.perf_counter()
            answer = session.get(url, headers=headers, stream=True)
            answer.raise_for_status()
            # Read in 1 MiB pieces: `.content` reads in 10 KiB ones, ~14 ms of client CPU
            # for the 3.3 MB metadata, which 8 client threads would serialize on the GIL.
            for _ in answer.iter_content(READ_CHUNK):
                pass
            mine.append((time.perf_counter() - started) * 1e3)
        with lock:
            timings.extend(mine)

    wall = run_threads([threading.Thread(target=client) for _ in range(clients)])
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
        metadata_url = f"{base}/studies/{study_uid}/metadata"
        etag = session.get(metadata_url).headers["ETag"]
        cases: list[tuple[str, str, dict[str, str]]] = [
            # The same-run baseline: the cheapest request the service answers.
            (BASELINE, f"{server.url}/healthz", {}),
            ("study search by PatientID", f"{base}/studies?PatientID={patient_id}", {}),
            ("study search by StudyDate range", f"{base}/studies?StudyDate=20180101-20181231",
             {}),
            ("study search by PatientName wildcard", f"{base}/studies?PatientName=SMITH*", {}),
            ("series in a study", f"{base}/studies/{study_uid}/series", {}),
            ("instances in a series (300, limit 1000)",
             f"{base}/studies/{study_uid}/series/{series_uid}/instances?limit=1000", {}),
            ("study metadata, 300 instances", metadata_url, {}),
            ("study metadata, 300 instances, If-None-Match (304)", metadata_url,
             {"If-None-Match": etag}),
        ]
        for name, url, headers in cases:
            count = len(session.get(url, headers=headers).content)
            alone = run_case(url, max(20, args.requests // 8), clients=1, headers=headers)
            rows.append((name, {**run_case(url, args.requests, headers=headers),
                                "alone": alone["p50"]}))
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
    """Replace the DICOMweb section of RESULTS.md (or add it) with this run's figures."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    info = machine()
    by_name = dict(rows)
    base = by_name[BASELINE]
    lines = [f"## DICOMweb — {dt.datetime.now():%Y-%m-%d %H:%M}\n",
             f"nproc {info['nproc']} ({info['cpu']}, {info['memory']}), Python "
             f"{info['python']}, load average at the start {info['load average at start']}, "
             f"at the end {load} (the machine is shared: compare with the same-run "
             f"baseline). 500 small studies + one 300-instance CT study in SQLite, gunicorn "
             f"({args.workers} workers × 4 threads), {CLIENTS} concurrent clients, "
             f"{args.requests} requests per case; `python -m bench.dicomweb`.\n",
             "| request | n | p50 ms (8 clients) | p95 ms (8 clients) | requests/s (8 clients) "
             "| p50 ms (1 client) | p50 / baseline p50 (1 client) |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {name} | {r['n']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['rps']:.0f} | "
              f"{r['alone']:.2f} | {r['alone'] / base['alone']:.1f}x |" for name, r in rows]
    study8 = max(r["p50"] for name, r in rows if name.startswith("study search"))
    study1 = max(r["alone"] for name, r in rows if name.startswith("study search"))
    meta = by_name["study metadata, 300 instances"]
    lines.append(
        f"\nStudy search p50, worst of the three: {study8:.2f} ms with 8 clients, {study1:.2f} ms "
        f"with one (target ≤ 5 ms: {'met' if study8 <= 5 else 'NOT met'} with 8 clients, "
        f"{'met' if study1 <= 5 else 'NOT met'} with one). Study metadata p50 "
        f"({metadata_bytes} bytes): {meta['p50']:.2f} ms with 8 clients, {meta['alone']:.2f} ms "
        f"with one (target ≤ 30 ms: {'met' if meta['p50'] <= 30 else 'NOT met'} with 8 "
        f"clients, {'met' if meta['alone'] <= 30 else 'NOT met'} with one). BulkDataURI "
        f"rewrite alone, in process: {rewrite_ms:.2f} ms.\n")
    section = "\n".join(lines) + "\n"
    text = RESULTS.read_text() if RESULTS.exists() else ""
    found = re.search(r"^## DICOMweb\b.*?(?=^## |\Z)", text, flags=re.S | re.M)
    if found:
        # Notes written by hand below the table (### …) are kept.
        notes = re.search(r"^### .*", found.group(0), flags=re.S | re.M)
        section += "\n" + notes.group(0).rstrip("\n") + "\n\n" if notes else "\n"
        text = text[:found.start()] + section + text[found.end():]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
