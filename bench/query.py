"""Query benchmark: GET /v1/studies filters under gunicorn on SQLite, beside a trivial route.

    .venv/bin/python -m bench.query --studies 500

Loads `make_studies(N)` (one POST), then for each route: latency with one client
(p50/p95 of sequential requests) and throughput with `--clients` threads, each
with its own requests.Session, bounded by a request count and a duration.
Routes: the baseline GET /healthz (no database), PatientID (exact), a StudyDate
range (one year) and a PatientName wildcard (a family-name prefix). Targets:
p50 <= 5 ms and >= 1,000 requests/s. The clients run on the same machine as the
server, so /healthz's figures are the ceiling this machine reaches.
"""

from __future__ import annotations

import argparse
import itertools
import os
import threading
import time
from collections.abc import Callable

import orjson
import requests

from bench.common import gunicorn, machine, percentile, run_threads
from service.examples.factory import make_studies, studies_specs

HEADERS = {"Content-Type": "application/dicom+json"}


def _routes(n_studies: int) -> dict[str, Callable[[int], str]]:
    """Route name → i-th path of that route (parameters rotate over the loaded data)."""
    specs = studies_specs(n_studies)
    patient_ids = sorted({spec.patient_id for spec in specs})
    years = sorted({spec.study_date[:4] for spec in specs})
    prefixes = sorted({spec.patient_name[:3] for spec in specs})
    return {
        "GET /healthz (baseline)": lambda i: "/healthz",
        "PatientID=<id>": lambda i: f"/v1/studies?PatientID={patient_ids[i % len(patient_ids)]}",
        "StudyDate=<year range>": lambda i: (f"/v1/studies?StudyDate={years[i % len(years)]}0101-"
                                            f"{years[i % len(years)]}1231"),
        "PatientName=<prefix>*": lambda i: (f"/v1/studies?PatientName="
                                           f"{prefixes[i % len(prefixes)].lower()}*"),
    }


def _latencies(url: str, path: Callable[[int], str], count: int) -> list[float]:
    with requests.Session() as session:
        for i in range(10):  # warm-up: connections, caches
            session.get(url + path(i), timeout=10).raise_for_status()
        latencies = []
        for i in range(count):
            started = time.perf_counter()
            response = session.get(url + path(i), timeout=10)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
    return latencies


def _throughput(url: str, path: Callable[[int], str], clients: int, count: int,
                duration: float) -> tuple[float, int]:
    """Requests/s of `clients` threads sharing a budget of `count` requests and `duration` s."""
    counter = itertools.count()
    errors: list[BaseException] = []
    deadline = time.perf_counter() + duration
    done = [0] * clients

    def client(slot: int) -> None:
        with requests.Session() as session:
            try:
                while time.perf_counter() < deadline:
                    i = next(counter)
                    if i >= count:
                        return
                    session.get(url + path(i), timeout=10).raise_for_status()
                    done[slot] += 1
            except Exception as exc:  # reported after the run
                errors.append(exc)

    elapsed = run_threads(
        [threading.Thread(target=client, args=(slot,)) for slot in range(clients)])
    if errors:
        raise RuntimeError(f"{len(errors)} client error(s), first: {errors[0]!r}")
    return sum(done) / elapsed, sum(done)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--requests", type=int, default=300,
                        help="sequential requests per route for latency")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=3000,
                        help="request budget per route for throughput")
    parser.add_argument("--duration", type=float, default=5.0,
                        help="time budget per route for throughput, seconds")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default 2 x cores + 1)")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn threads per worker")
    args = parser.parse_args(argv)
    workers = args.workers or 2 * len(os.sched_getaffinity(0)) + 1

    print("machine:", ", ".join(f"{key} {value}" for key, value in machine().items()))
    started = time.perf_counter()
    body = orjson.dumps([instance for study in make_studies(args.studies) for instance in study])
    print(f"data: {args.studies} studies, {len(body) / 2**20:.1f} MiB, generated in "
          f"{time.perf_counter() - started:.1f} s; gunicorn {workers} workers x "
          f"{args.threads} threads; {args.clients} client threads", flush=True)

    results = []
    with gunicorn(workers, threads=args.threads) as server:
        response = requests.post(server.url + "/v1/dumps", data=body, headers=HEADERS,
                                 timeout=300)
        response.raise_for_status()
        print(f"loaded: {response.json()['created']} instances", flush=True)
        for name, path in _routes(args.studies).items():
            sample = requests.get(server.url + path(0), timeout=10).json()
            found = sample.get("total", "-") if isinstance(sample, dict) else "-"
            latencies = _latencies(server.url, path, args.requests)
            rate, served = _throughput(server.url, path, args.clients, args.max_requests,
                                       args.duration)
            results.append((name, found, percentile(latencies, 0.5) * 1000,
                            percentile(latencies, 0.95) * 1000, rate, served))
            print(f"  {name}: done", flush=True)

    print(f"\n| {'route':26} | {'matches':>7} | {'p50 ms':>6} | {'p95 ms':>6} | "
          f"{'req/s':>7} | requests in the throughput run")
    print(f"|{'-' * 28}|{'-' * 9}|{'-' * 8}|{'-' * 8}|{'-' * 9}|{'-' * 32}")
    for name, found, p50, p95, rate, served in results:
        print(f"| {name:26} | {found!s:>7} | {p50:6.2f} | {p95:6.2f} | {rate:7.0f} | {served}")
    baseline = results[0]
    queries = results[1:]
    latency_ratios = ", ".join(f"{r[2] / baseline[2]:.1f}x" for r in queries)
    rate_ratios = ", ".join(f"{r[4] / baseline[4]:.2f}x" for r in queries)
    print(f"\nrelative to the baseline: p50 {latency_ratios}; req/s {rate_ratios}")
    met_latency = all(r[2] <= 5 for r in queries)
    met_rate = all(r[4] >= 1000 for r in queries)
    print(f"targets: p50 <= 5 ms: {'met' if met_latency else 'NOT met'}; >= 1,000 req/s: "
          f"{'met' if met_rate else 'NOT met'} (baseline /healthz {baseline[4]:.0f} req/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
