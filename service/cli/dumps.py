"""Reading a dump given on the command line: a file or stdin, validated as the API would."""

from __future__ import annotations

import sys
from pathlib import Path

from service.cli.console import Progress
from service.dicom.json_model import Findings, JsonSyntaxError, Validator, load_json, split_dump

READ_CHUNK = 4 * 1024 * 1024


def read_input(path: str, progress: Progress | None = None) -> bytes:
    """The bytes of a file, or of stdin for "-", reported on `progress` chunk by chunk."""
    if path == "-":
        return sys.stdin.buffer.read()
    file = Path(path)
    total = file.stat().st_size
    chunks: list[bytes] = []
    done = 0
    with file.open("rb") as stream:
        while chunk := stream.read(READ_CHUNK):
            chunks.append(chunk)
            done += len(chunk)
            if progress:
                progress.update(f"reading {path}: {done / 2**20:.0f}/{total / 2**20:.0f} MiB")
    return b"".join(chunks)


class DumpError(Exception):
    """A dump that cannot be read or is invalid; carries the validation errors."""

    def __init__(self, detail: str, errors: list[dict] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


def load_instances(path: str, max_depth: int) -> list[dict]:
    """The validated instances of a dump; DumpError when unreadable or invalid."""
    try:
        body = read_input(path)
    except OSError as exc:
        raise DumpError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        document = load_json(body)
    except JsonSyntaxError as exc:
        where = f" (at byte {exc.position})" if exc.position is not None else ""
        raise DumpError(f"{path}: {exc}{where}") from exc
    findings = Findings()
    instances = split_dump(document, findings)
    validator = Validator(findings, max_depth=max_depth)
    canonical = [validator.instance(item, index) if isinstance(item, dict) else item
                 for index, item in enumerate(instances)]
    if findings.errors:
        raise DumpError(f"{path}: {len(findings.errors)} problem(s) in the dump",
                        [f.to_json() for f in findings.errors])
    return canonical
