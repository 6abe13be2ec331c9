"""The ingest use case: bytes of a dump → validated records → one store transaction.

Shared by POST /v1/dumps and `dicom-resolver ingest`; raises service.errors
errors so that both report problems the same way.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from service.dicom.json_model import JsonSyntaxError
from service.dicom.records import InstanceRecord, parse_dump
from service.errors import Conflict, InvalidDump, ServiceUnavailable
from service.store import repository

# The logger keeps its name from before the move to usecases/: log queries select on it.
log = logging.getLogger("service.ingest")

MAX_REPORTED_ERRORS = 1000
# SQLSTATEs of a dump transaction that lost a race with another one (another replica or
# worker ingesting an overlapping dump): nothing was stored, so the whole transaction is
# run again, and the second run sees what the winner committed. PostgreSQL writers run
# READ COMMITTED behind per-study advisory locks (repository.lock_studies), so writers of
# one study wait instead of failing; what remains is 23505, two dumps naming different
# studies (different locks) inserting the same instance or series, whose rerun finds the
# conflict (409), and 40P01 for row locks taken across studies. 40001 (serialization
# failure) no longer arises from these writers; it stays listed because a rerun is still
# the right answer should one occur.
RETRYABLE_SQLSTATES = {"40001": "serialization failure", "40P01": "deadlock",
                       "23505": "unique violation"}
MAX_ATTEMPTS = 8


def ingest_bytes(engine: Engine, body: bytes, *, max_depth: int = 16) -> dict[str, Any]:
    """Ingest one dump atomically; answers the counts and the UIDs touched.

    Raises InvalidDump (nothing stored) listing every problem with instance index and
    JSON path, or Conflict when an instance already exists under another study/series.
    """
    started = time.perf_counter()
    try:
        parsed = parse_dump(body, max_depth=max_depth)
    except JsonSyntaxError as exc:
        raise InvalidDump(str(exc), errors=[{"instance": None, "path": "$",
                                             "detail": str(exc), "position": exc.position}]
                          ) from None
    findings = parsed.findings
    if findings.errors:
        errors = [f.to_json() for f in findings.errors[:MAX_REPORTED_ERRORS]]
        raise InvalidDump(
            f"{len(findings.errors)} problem(s) in the dump; nothing was stored",
            errors=errors, error_count=len(findings.errors))
    if not parsed.records:
        raise InvalidDump("the dump holds no instance; nothing was stored",
                          errors=[{"instance": None, "path": "$", "detail": "empty dump"}])
    try:
        result = _store(engine, parsed.records, body)
    except repository.IngestConflict as exc:
        raise Conflict(
            "instance(s) or series already stored under another study or series; "
            "nothing was stored", errors=exc.conflicts) from None
    elapsed = time.perf_counter() - started
    log.info("ingested dump %d: %d instances (%d created, %d updated, %d unchanged) "
             "in %.3f s", result.dump_id, result.received, result.created, result.updated,
             result.unchanged, elapsed)
    answer: dict[str, Any] = {
        "dump_id": result.dump_id,
        "received": result.received,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "studies": result.studies,
        "series": result.series,
        "warnings": [f.to_json() for f in findings.warnings],
    }
    if findings.warnings_dropped:
        answer["warnings_dropped"] = findings.warnings_dropped
    return answer


def _store(engine: Engine, records: list[InstanceRecord], body: bytes) -> repository.IngestResult:
    """repository.ingest, run again (bounded, with jittered back-off) when it lost a race."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return repository.ingest(engine, records, body)
        except DBAPIError as exc:
            reason = RETRYABLE_SQLSTATES.get(getattr(exc.orig, "sqlstate", None) or "")
            if reason is None:
                raise
            if attempt == MAX_ATTEMPTS:
                raise ServiceUnavailable(
                    "the store is busy with concurrent ingests of the same data; "
                    "nothing was stored, retry", headers={"Retry-After": "1"}) from exc
            log.info("ingest attempt %d lost a race (%s); retrying", attempt, reason)
            time.sleep(random.uniform(0, 0.02 * 2 ** attempt))
    raise AssertionError("unreachable")
