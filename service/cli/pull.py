"""`dicom-resolver pull`: import studies from a Google DICOM store in the foreground.

    dicom-resolver pull [--store S] [--study UID …] [--since YYYYMMDD] [--until YYYYMMDD]
                        [--patient-id ID] [--modality CT] [--accession N] [--resume ID]

The same import as POST /v1/imports (service/usecases/imports.py), run by this process's
own worker straight into the configured store, with a progress line on a terminal
(studies, instances, rate, ETA) and a summary. The job lives in the database: an
interrupted pull is continued with `--resume ID` (or by a service's worker).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import IO, Any

from service.cli.console import Progress, UsageError, load_settings
from service.cli.database import open_store

BAR_WIDTH = 24


def add_parser(commands: Any) -> None:
    pull = commands.add_parser("pull", help="import studies from a Google DICOM store")
    pull.add_argument("--store", help="projects/P/locations/L/datasets/D/dicomStores/S "
                                      "(default: DICOM_RESOLVER_DICOM_STORE)")
    pull.add_argument("--study", action="append", default=[], metavar="UID",
                      help="a StudyInstanceUID to import (repeatable)")
    pull.add_argument("--since", metavar="YYYYMMDD", help="studies from this StudyDate")
    pull.add_argument("--until", metavar="YYYYMMDD", help="studies up to this StudyDate")
    pull.add_argument("--patient-id", help="studies of this PatientID")
    pull.add_argument("--modality", help="studies with this modality (ModalitiesInStudy)")
    pull.add_argument("--accession", help="studies with this AccessionNumber")
    pull.add_argument("--resume", metavar="IMPORT_ID", help="continue an unfinished import")
    pull.add_argument("--concurrency", type=int, help="studies at once (default: settings)")
    pull.add_argument("--database-url", help="SQLAlchemy URL (default: settings)")
    pull.set_defaults(handler=cmd_pull)


def request_body(args: argparse.Namespace) -> dict[str, Any]:
    """The POST /v1/imports body the options stand for."""
    body: dict[str, Any] = {}
    if args.store:
        body["store"] = args.store
    if args.study:
        body["study_uids"] = args.study
    filters = {}
    if args.since or args.until:
        filters["StudyDate"] = f"{args.since or ''}-{args.until or ''}"
    for name, value in (("PatientID", args.patient_id), ("ModalitiesInStudy", args.modality),
                        ("AccessionNumber", args.accession)):
        if value:
            filters[name] = value
    if filters or not args.study:
        body["filters"] = filters
    return body


class PullProgress:
    """The progress line: a bar of studies, instances, studies/s and ETA (terminals only)."""

    def __init__(self, stream: IO[str]) -> None:
        self.line = Progress(stream)
        self.started = time.monotonic()
        self.worked = 0

    def show(self, resource: dict[str, Any]) -> None:
        studies = resource["studies"]
        finished = studies["found"] - studies["queued"] - studies["running"]
        total = studies["found"]
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.worked / elapsed
        left = total - finished
        eta = f"{left / rate:.0f}s" if rate > 0 and left else "-"
        filled = int(BAR_WIDTH * finished / total) if total else 0
        self.line.update(f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                         f"{finished}/{total} studies, {resource['instances']} instances, "
                         f"{rate:.1f} studies/s, ETA {eta}")


def cmd_pull(args: argparse.Namespace, out: IO[str]) -> int:
    from service.bulkdata.client import BulkDataClient
    from service.bulkdata.store_reader import StoreReaders
    from service.errors import ServiceError
    from service.usecases import imports
    from service.usecases.import_worker import ImportWorker, WorkerOptions

    overrides: dict[str, Any] = {}
    if args.concurrency:
        overrides["import_concurrency"] = args.concurrency
    settings = load_settings(args, **overrides)
    engine = open_store(settings.database_url)
    client = BulkDataClient(settings)
    try:
        try:
            if args.resume:
                resource = imports.get_import(engine, args.resume)
            else:
                resource = imports.create_import(engine, imports.parse_request(
                    request_body(args), settings.dicom_store))
        except ServiceError as exc:
            raise UsageError(exc.detail + (f" ({exc.extra['pointer']})"
                                           if "pointer" in exc.extra else "")) from exc
        import_id = resource["id"]
        progress = PullProgress(sys.stderr)
        worker = ImportWorker(engine, StoreReaders(client), WorkerOptions.from_settings(settings))

        def on_study(_outcome: Any) -> None:
            progress.worked += 1
            progress.show(imports.get_import(engine, import_id))

        started = time.monotonic()
        try:
            worker.run(import_id, on_study=on_study)
        except KeyboardInterrupt:
            progress.line.clear()
            sys.stderr.write(f"interrupted; continue with: dicom-resolver pull --resume "
                             f"{import_id}\n")
            return 130
        progress.line.clear()
        final = imports.get_import(engine, import_id)
        summary(final, time.monotonic() - started, progress.worked, out)
        return 0 if final["state"] == "done" and not final["studies"]["failed"] else 1
    finally:
        client.close()
        engine.dispose()


def summary(resource: dict[str, Any], elapsed: float, worked: int, out: IO[str]) -> None:
    studies = resource["studies"]
    out.write(f"import {resource['id']}: {resource['state']}: {studies['found']} studies "
              f"found, {studies['done']} imported, {studies['unchanged']} unchanged, "
              f"{studies['failed']} failed; {resource['instances']} instances in "
              f"{elapsed:.1f} s ({worked / max(elapsed, 1e-6):.1f} studies/s)\n")
    if resource["error"]:
        out.write(f"error: {resource['error']}\n")
    for failure in resource["failures"]:
        out.write(f"failed: {failure['study_uid']}: {failure['reason']}\n")
