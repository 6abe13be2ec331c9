"""Slow clients and throughput: gunicorn's own gthread worker (the baseline) beside the
buffering worker of gunicorn.conf.py (service.front.worker), in the same run.

    .venv/bin/python -m bench.slow_clients [--seconds 8] [--rounds 2]

For each worker class, under gunicorn (5 workers × 4 threads, gunicorn.conf.py's figures
on 2 cores) on a SQLite store holding one small study:
- throughput: wrk on keep-alive connections against GET /healthz and a study search
  (requests/s, p50 and p99 latency, server CPU per request: master and workers' CPU time
  over the requests wrk counted);
- slow clients: --slow connections that declared a 1 MB body and send a byte a second,
  and as many that never send anything; meanwhile a fresh client GETs /healthz every
  0.2 s with a 5 s timeout (answer times, timeouts).
Rounds alternate between the two workers so that both see the same noise of a shared
machine; compare the columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import orjson
import requests

from bench.common import Server, cpu_ticks, gunicorn, machine, percentile
from service.examples.factory import StudySpec, make_dump, make_study

WORKERS, THREADS = 5, 4
BASELINE = "gthread"
CANDIDATE = "service.front.worker.BufferingThreadWorker"
SEARCH = "/v1/studies?PatientID=BENCH-SLOW-1"
SLOW_BODY = (b"POST /v1/dumps HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
             b"Content-Length: 1000000\r\n\r\n[")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def server_cpu_ms(server: Server) -> float:
    """CPU time of the master and its workers, live or gone (gunicorn.conf.py's max_requests
    recycles workers during a wrk run: their time is in the master's cutime and cstime)."""
    fields = Path(f"/proc/{server.master_pid}/stat").read_text().rsplit(")", 1)[1].split()
    reaped = int(fields[13]) + int(fields[14])
    ticks = reaped + sum(cpu_ticks(pid) for pid in [server.master_pid, *server.worker_pids()])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def wrk(server: Server, path: str, seconds: int, connections: int) -> dict[str, float]:
    cpu_before = server_cpu_ms(server)
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", server.url + path],
        capture_output=True, text=True, check=True).stdout
    cpu = server_cpu_ms(server) - cpu_before
    requests_done = int(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    latency = {pct: float(value) * _UNITS[unit] for pct, value, unit in re.findall(
        r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)}
    if set(latency) != {"50", "99"}:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            "p50": latency["50"], "p99": latency["99"],
            "cpu_per_request": cpu / max(requests_done, 1),
            "errors": float(errors.group(1)) if errors else 0.0}


def under_slow_clients(server: Server, slow: int, seconds: float) -> dict[str, float]:
    host, port = server.url.removeprefix("http://").split(":")
    trickling = [socket.create_connection((host, int(port))) for _ in range(slow)]
    idle = [socket.create_connection((host, int(port))) for _ in range(slow)]
    stop = threading.Event()

    def trickle() -> None:
        for sock in trickling:
            sock.sendall(SLOW_BODY)
        while not stop.wait(1.0):
            for sock in trickling:
                try:
                    sock.send(b" ")
                except OSError:
                    pass

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    time.sleep(1)
    times, timeouts = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            requests.get(server.url + "/healthz", timeout=5).raise_for_status()
            times.append((time.monotonic() - started) * 1000)
        except requests.RequestException:
            timeouts += 1
        time.sleep(0.2)
    stop.set()
    feeder.join()
    for sock in trickling + idle:
        sock.close()
    return {"n": len(times) + timeouts, "timeouts": timeouts,
            "p50": percentile(times, 0.5) if times else float("nan"),
            "max": max(times) if times else float("nan")}


def measure(worker_class: str, seconds: int, slow: int) -> dict[str, dict[str, float]]:
    with gunicorn(WORKERS, THREADS, worker_class=worker_class) as server:
        dump = make_dump(make_study(StudySpec(seed=3, n_slices=2, rows=8, columns=8,
                                              patient_id="BENCH-SLOW-1")))
        requests.post(server.url + "/v1/dumps", data=orjson.dumps(dump), timeout=60,
                      headers={"Content-Type": "application/dicom+json"}).raise_for_status()
        wrk(server, "/healthz", 2, 32)  # warm-up, untimed
        return {"healthz": wrk(server, "/healthz", seconds, 32),
                "search": wrk(server, SEARCH, seconds, 32),
                "slow": under_slow_clients(server, slow, seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--slow", type=int, default=2 * WORKERS * THREADS,
                        help="slow connections (and as many idle ones)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    print(machine())
    runs: dict[str, list[dict[str, dict[str, float]]]] = {BASELINE: [], CANDIDATE: []}
    for _ in range(args.rounds):
        for worker_class in runs:
            runs[worker_class].append(measure(worker_class, args.seconds, args.slow))
    print(f"\n{WORKERS} workers × {THREADS} threads, wrk -t2 -c32 {args.seconds} s, "
          f"{args.rounds} rounds alternated; load average now "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    print("| worker | route | requests/s | p50 ms | p99 ms | server CPU ms/request | non-2xx |")
    print("|---|---|---|---|---|---|---|")
    for worker_class, results in runs.items():
        for route in ("healthz", "search"):
            for result in results:
                figures = result[route]
                print(f"| {worker_class.rsplit('.', 1)[-1]} | {route} | {figures['rps']:.0f} | "
                      f"{figures['p50']:.2f} | {figures['p99']:.2f} | "
                      f"{figures['cpu_per_request']:.2f} | {figures['errors']:.0f} |")
    print(f"\nWith {args.slow} connections trickling a 1 MB body and {args.slow} idle ones "
          f"({WORKERS * THREADS} threads), a fresh client's GET /healthz:\n")
    print("| worker | requests | timed out (5 s) | p50 ms | max ms |")
    print("|---|---|---|---|---|")
    for worker_class, results in runs.items():
        for result in results:
            slow = result["slow"]
            print(f"| {worker_class.rsplit('.', 1)[-1]} | {slow['n']:.0f} | "
                  f"{slow['timeouts']:.0f} | {slow['p50']:.1f} | {slow['max']:.1f} |")


if __name__ == "__main__":
    main()
