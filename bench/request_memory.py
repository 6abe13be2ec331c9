"""Memory of one request: a worker's peak RSS growth for refused and accepted dumps.

    .venv/bin/python -m bench.request_memory [--bomb-gib 10]

Each case runs on a fresh gunicorn (1 worker, 4 threads, SQLite, the default
MAX_DUMP_BYTES of 512 MiB) so that memory a previous case left to the allocator cannot
hide a peak: the figure is the worker's VmHWM after the request minus its VmRSS before
it. Cases: a gzip bomb (refused: costs the limit), exported metadata (2,000 small CT
instances), one huge string value (ASCII, then CJK in UT), and a value array of a
million one-character strings. The ratio is the growth over the body's size.
"""

from __future__ import annotations

import argparse
import zlib

import orjson
import requests

from bench.common import gunicorn, machine, proc_status_kb
from service.examples.factory import StudySpec, make_dump, make_study

MiB = 1024 * 1024


def gzip_bomb(inflated: int) -> bytes:
    deflater = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(16 * MiB)
    parts = [deflater.compress(b"[")]
    parts += [deflater.compress(zeros) for _ in range(inflated // len(zeros))]
    return b"".join([*parts, deflater.flush()])


def with_value(value: list, vr: str, tag: str) -> bytes:
    dump = make_dump(make_study(StudySpec(seed=5, n_slices=1, rows=8, columns=8)))
    dump[1][tag] = {"vr": vr, "Value": value}
    return orjson.dumps(dump)


def measure(body: bytes, headers: dict[str, str]) -> tuple[int, float]:
    with gunicorn(workers=1, threads=4) as server:
        (worker,) = server.worker_pids()
        requests.get(server.url + "/v1/studies", timeout=10)
        before = proc_status_kb(worker, "VmRSS")
        status = requests.post(server.url + "/v1/dumps", data=body, timeout=600,
                               headers={"Content-Type": "application/json", **headers}
                               ).status_code
        return status, (proc_status_kb(worker, "VmHWM") - before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bomb-gib", type=int, default=10)
    args = parser.parse_args()
    print(machine())
    cases = [
        (f"gzip bomb inflating to {args.bomb_gib} GiB", gzip_bomb(args.bomb_gib * 1024 * MiB),
         {"Content-Encoding": "gzip"}),
        ("2,000 CT instances (exported metadata)", orjson.dumps(make_dump(make_study(
            StudySpec(seed=6, n_slices=2000, rows=8, columns=8)))), {}),
        ("one 50 MB ASCII string (LO)", with_value(["x" * 50_000_000], "LO", "00081030"), {}),
        ("one 50 MB CJK string (UT)", with_value(["中" * (50_000_000 // 3)], "UT",
                                                 "00204000"), {}),
        ("1,000,000 one-character values (LO)", with_value(["x"] * 1_000_000, "LO",
                                                           "00204000"), {}),
    ]
    print("\n| request | body MiB | status | worker peak RSS growth MiB | growth / body |")
    print("|---|---|---|---|---|")
    for label, body, headers in cases:
        status, growth = measure(body, headers)
        print(f"| {label} | {len(body) / MiB:.1f} | {status} | {growth:.0f} | "
              f"{growth * MiB / len(body):.1f}x |", flush=True)


if __name__ == "__main__":
    main()
