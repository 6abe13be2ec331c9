"""`dicom-resolver show` on a 1,000-instance dump beside pydicom's Dataset.from_json of it.

    .venv/bin/python -m bench.show [--instances 1000] [--rounds 3]

The dump is 1,000 copies of the shipped example's first CT instance, each with its own
SOP Instance UID and InstanceNumber. Measured in the same run, CPU seconds (medians):
  show     `dicom-resolver show DUMP` (parse, validate, list every attribute), output discarded
  pydicom  Dataset.from_json of every instance (parsing only, nothing printed)
The listing used to be a timed test in the suite; the suite times nothing, so it lives here.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import orjson
from pydicom import Dataset
from pydicom.uid import generate_uid

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, median  # noqa: E402
from service.cli import main as cli_main  # noqa: E402

EXAMPLE = ROOT / "service" / "examples" / "data" / "example-study.json"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def ct_instances(count: int) -> list[dict]:
    template = next(i for i in orjson.loads(EXAMPLE.read_bytes())
                    if i["00080016"]["Value"] == [CT_IMAGE_STORAGE])
    instances = []
    for number in range(count):
        instance = orjson.loads(orjson.dumps(template))
        instance["00080018"]["Value"] = [generate_uid()]
        instance["00200013"]["Value"] = [number + 1]
        instances.append(instance)
    return instances


def show_seconds(path: Path) -> float:
    started = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        status = cli_main(["show", str(path)])
    elapsed = time.process_time() - started
    if status != 0:
        raise SystemExit(f"show exited {status}")
    return elapsed


def pydicom_seconds(instances: list[dict]) -> float:
    started = time.process_time()
    for instance in instances:
        Dataset.from_json(instance, bulk_data_uri_handler=lambda *_: b"")
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    instances = ct_instances(args.instances)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dump.json"
        path.write_bytes(orjson.dumps(instances))
        ours = median([show_seconds(path) for _ in range(args.rounds)])
    theirs = median([pydicom_seconds(instances) for _ in range(args.rounds)])
    print("| instances | show CPU s | pydicom from_json CPU s | show / pydicom |")
    print("|---|---|---|---|")
    print(f"| {args.instances} | {ours:.3f} | {theirs:.3f} | {ours / theirs:.2f}× |")


if __name__ == "__main__":
    main()
