"""python -m service.examples --out DIR [--slices N] [--seed S]

Writes DIR/example-study.json (the Google-style dump) and DIR/dicom/*.dcm.
With the defaults the JSON is byte-identical to the shipped example dump.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

from .files import write_dicom_files
from .google_json import encode_dump, make_dump
from .shipped import EXAMPLE_SPEC
from .study import make_study

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Generate the example study into --out; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m service.examples", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--slices", type=int, default=EXAMPLE_SPEC.n_slices,
                        help="CT slices (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=EXAMPLE_SPEC.seed,
                        help="seed of every UID and value (default: %(default)s)")
    parser.add_argument("--no-dicom", action="store_true", help="write only the JSON dump")
    args = parser.parse_args(argv)
    if args.slices < 0:
        parser.error("--slices must be >= 0")

    spec = replace(EXAMPLE_SPEC, n_slices=args.slices, seed=args.seed,
                   with_pixels=not args.no_dicom)
    datasets = make_study(spec)
    args.out.mkdir(parents=True, exist_ok=True)
    dump_path = args.out / "example-study.json"
    dump_path.write_bytes(encode_dump(make_dump(datasets), indent=True))
    if not args.no_dicom:
        write_dicom_files(datasets, args.out / "dicom")
    print(f"wrote {dump_path} ({len(datasets)} instances)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
