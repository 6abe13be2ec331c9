"""Ingest benchmark: POST /v1/dumps under gunicorn on SQLite, beside same-run baselines.

    .venv/bin/python -m bench.ingest --instances 1000 --rounds 5

Baselines, on the same bytes in the same run: plain `orjson.loads` of the whole
dump (the floor: parsing alone) and pydicom `Dataset.from_json` of every
instance (the usual way). Targets: end-to-end ingest within 3x the orjson time,
at least 20x pydicom's rate, and the serving worker's peak RSS growth under 4x
the dump size.

The machine may be shared, so the measurements are interleaved in rounds and
compared within each round: a round times orjson.loads, records.parse_dump in
process, pydicom on one `rounds`-th of the instances (every instance is read
once over the run), a fresh POST, an unchanged re-POST, then DELETEs the study.
Ratios are the medians of the rounds' ratios. CPU seconds are reported beside
wall seconds (the worker's from /proc/<pid>/stat): they suffer less from other
processes. Memory is read per POST from /proc/<pid>/status: VmHWM, reset through
/proc/<pid>/clear_refs just before, minus VmRSS before; the largest growth of
any POST is held against the target.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pydicom
import requests

from bench.common import (
    Server,
    cpu_ticks,
    gunicorn,
    machine,
    median,
    proc_status_kb,
    reset_peak,
)
from service.dicom.records import parse_dump
from service.examples.factory import make_ct_dump

HEADERS = {"Content-Type": "application/dicom+json"}
TICK = 1 / os.sysconf("SC_CLK_TCK")


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def _local(function: Callable[[], Any], timing: Timing) -> None:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    timing.cpu.append(time.process_time() - cpu)
    timing.wall.append(time.perf_counter() - wall)
    del result


def _pydicom(instances: list[dict]) -> list[pydicom.Dataset]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # private tags, odd values: not what is measured
        return [pydicom.Dataset.from_json(instance, bulk_data_uri_handler=lambda *_: b"")
                for instance in instances]


def _post(session: requests.Session, server: Server, body: bytes, pids: list[int],
          timing: Timing, growths: list[int]) -> dict:
    """POST the dump; records wall and worker CPU seconds and the serving worker's peak
    RSS growth in KiB (VmHWM reset first where permitted)."""
    for pid in pids:
        reset_peak(pid)
    rss = {pid: proc_status_kb(pid, "VmRSS") for pid in pids}
    ticks = sum(cpu_ticks(pid) for pid in pids)
    started = time.perf_counter()
    response = session.post(server.url + "/v1/dumps", data=body, headers=HEADERS,
                            timeout=300)
    timing.wall.append(time.perf_counter() - started)
    timing.cpu.append((sum(cpu_ticks(pid) for pid in pids) - ticks) * TICK)
    growths.append(max(proc_status_kb(pid, "VmHWM") - rss[pid] for pid in pids))
    if response.status_code != 200:
        raise RuntimeError(f"POST /v1/dumps answered {response.status_code}: "
                           f"{response.text[:500]}")
    return response.json()


def _warm_up(session: requests.Session, server: Server, pids: list[int]) -> None:
    """Small dumps until every worker has served one, so that one-time costs (imports,
    caches, the engine's first connection) are not counted as the dump's."""
    served: set[int] = set()
    for seed in range(1, 30):
        before = {pid: cpu_ticks(pid) for pid in pids}
        body = orjson.dumps(make_ct_dump(20, seed=seed))
        if session.post(server.url + "/v1/dumps", data=body, headers=HEADERS,
                        timeout=60).status_code != 200:
            raise RuntimeError("warm-up POST failed")
        served.update(pid for pid in pids if cpu_ticks(pid) > before[pid])
        if served >= set(pids):
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved measurement rounds")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    n, rounds = args.instances, args.rounds

    print("machine:", ", ".join(f"{key} {value}" for key, value in machine().items()))
    started = time.perf_counter()
    dump = make_ct_dump(n)
    body = orjson.dumps(dump)
    study_uid = dump[0]["0020000D"]["Value"][0]
    size_mib = len(body) / 2**20
    print(f"dump: {n} CT instances, {size_mib:.2f} MiB ({len(body) / n / 1024:.1f} KiB per "
          f"instance), generated in {time.perf_counter() - started:.1f} s", flush=True)

    floor, in_process, usual, fresh, again = Timing(), Timing(), Timing(), Timing(), Timing()
    usual_share: list[int] = []
    growths: list[int] = []
    with gunicorn(args.workers) as server, requests.Session() as session:
        pids = server.worker_pids()
        _warm_up(session, server, pids)
        for index in range(rounds):
            _local(lambda: orjson.loads(body), floor)
            _local(lambda: parse_dump(body), in_process)
            share = dump[index * n // rounds:(index + 1) * n // rounds]
            _local(lambda share=share: _pydicom(share), usual)
            usual_share.append(len(share))
            answer = _post(session, server, body, pids, fresh, growths)
            if answer["created"] != n:
                raise RuntimeError(f"expected {n} created, got {answer}")
            answer = _post(session, server, body, pids, again, growths)
            if answer["unchanged"] != n:
                raise RuntimeError(f"expected {n} unchanged, got {answer}")
            session.delete(f"{server.url}/v1/studies/{study_uid}", timeout=60).raise_for_status()
            print(f"round {index + 1}/{rounds}: orjson {floor.wall[-1]:.3f} s, POST "
                  f"{fresh.wall[-1]:.3f} s, re-POST {again.wall[-1]:.3f} s, pydicom "
                  f"{len(share)} instances {usual.wall[-1]:.3f} s", flush=True)
    _report(n, size_mib, floor, in_process, usual, usual_share, fresh, again, growths)
    return 0


def _report(n: int, size_mib: float, floor: Timing, in_process: Timing, usual: Timing,
            usual_share: list[int], fresh: Timing, again: Timing, growths: list[int]) -> None:
    # pydicom read a share per round: its time for the whole dump, per round.
    usual_full = Timing([t * n / k for t, k in zip(usual.wall, usual_share, strict=True)],
                        [t * n / k for t, k in zip(usual.cpu, usual_share, strict=True)])

    def ratio(numerator: Timing, denominator: Timing, cpu: bool = False) -> float:
        tops, bottoms = (numerator.cpu, denominator.cpu) if cpu else (numerator.wall,
                                                                      denominator.wall)
        return median([top / bottom for top, bottom in zip(tops, bottoms, strict=True)])

    rows = [
        ("orjson.loads of the dump (floor)", floor, ""),
        ("pydicom Dataset.from_json, every instance", usual_full, ""),
        ("records.parse_dump in process", in_process,
         f"{ratio(in_process, floor):.2f}x orjson (CPU {ratio(in_process, floor, True):.2f}x)"),
        ("POST /v1/dumps, fresh", fresh,
         f"{ratio(fresh, floor):.2f}x orjson (CPU {ratio(fresh, floor, True):.2f}x); "
         f"pydicom/ingest {ratio(usual_full, fresh):.1f} (CPU "
         f"{ratio(usual_full, fresh, True):.1f})"),
        ("POST /v1/dumps, unchanged re-ingest", again,
         f"{ratio(again, floor):.2f}x orjson (CPU {ratio(again, floor, True):.2f}x)"),
    ]
    print(f"\nmedians over {len(floor.wall)} interleaved rounds (worker CPU for POSTs):")
    print(f"| {'measurement':42} | {'wall s':>7} | {'CPU s':>6} | {'instances/s':>11} | "
          f"same-round ratios")
    print(f"|{'-' * 44}|{'-' * 9}|{'-' * 8}|{'-' * 13}|{'-' * 50}")
    for name, timing, note in rows:
        wall = median(timing.wall)
        print(f"| {name:42} | {wall:7.3f} | {median(timing.cpu):6.3f} | {n / wall:11.0f} | "
              f"{note}")
    peak = max(growths) / 1024
    print(f"\nfresh POST wall: {', '.join(f'{t:.3f}' for t in fresh.wall)} s; re-ingest: "
          f"{', '.join(f'{t:.3f}' for t in again.wall)} s")
    print(f"peak RSS growth of the serving worker per POST: max {peak:.1f} MiB = "
          f"{peak / size_mib:.2f}x the dump; first POST {growths[0] / 1024:.1f} MiB, "
          f"median {median(growths) / 1024:.1f} MiB")
    targets = [
        ("ingest within 3x orjson", ratio(fresh, floor) <= 3),
        ("ingest >= 20x pydicom", ratio(usual_full, fresh) >= 20),
        ("peak memory < 4x dump", peak < 4 * size_mib),
    ]
    print("targets (wall-clock ratios):",
          "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in targets))


if __name__ == "__main__":
    raise SystemExit(main())
