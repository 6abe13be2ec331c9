"""Start-up of the pytest plugin's fixtures (dicom_resolver_testing), first and later.

    python -m bench.fixtures [--rounds 3]

Each measurement runs in a fresh interpreter, as a pytest session would start them:
"first" with an empty cache (the example study's .dcm files generated, an RSA service
account made), "later" with the cache warm. Inside one process, a second start (what the
function scope does per test) and `reset()` (what fresh_dicom_resolver does) are timed
too. Baseline of the same run: a fresh interpreter importing the service (`import service,
service.api`), the floor of any start-up here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine, median

PROBE = r"""
import json, sys, time
from pathlib import Path
began = time.perf_counter()
from dicom_resolver_testing.example import example_fixture_set
from dicom_resolver_testing.stack import start_emulator, start_resolver
cache, work, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
timings = {}
def start(label):
    t = time.perf_counter()
    folder = example_fixture_set(cache / "example")
    emulator = start_emulator(folder, work / label, account_cache=cache / "account.json")
    resolver = start_resolver(emulator, work / (label + "-service"), mode=mode)
    timings[label] = time.perf_counter() - t
    return emulator, resolver
emulator, resolver = start("start")
timings["start_with_imports"] = time.perf_counter() - began
t = time.perf_counter(); resolver.reset(); timings["reset"] = time.perf_counter() - t
resolver.stop(); emulator.stop()
emulator, resolver = start("second_start")
resolver.stop(); emulator.stop()
print(json.dumps(timings))
"""


def probe(cache: Path, work: Path, mode: str) -> dict[str, float]:
    output = subprocess.run([sys.executable, "-c", PROBE, str(cache), str(work), mode],
                            capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def baseline() -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import service, service.api"], check=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"baseline: fresh interpreter importing the service: "
          f"{median([baseline() for _ in range(args.rounds)]):.2f} s (median)")
    print("| mode | run | start incl. imports s | start s | second start s | reset s |")
    print("|---|---|---|---|---|---|")
    for mode in ("thread", "gunicorn"):
        with tempfile.TemporaryDirectory() as scratch:
            cache = Path(scratch) / "cache"
            runs = [("first (cold cache)", probe(cache, Path(scratch) / "w0", mode))]
            later = [probe(cache, Path(scratch) / f"w{n}", mode) for n in range(1, args.rounds + 1)]
            runs.append((f"later (median of {args.rounds})",
                         {key: median([run[key] for run in later]) for key in later[0]}))
            for label, run in runs:
                print(f"| {mode} | {label} | {run['start_with_imports']:.2f} | "
                      f"{run['start']:.2f} | {run['second_start']:.2f} | {run['reset']:.2f} |")


if __name__ == "__main__":
    main()
