"""The import worker: claims queued imports from the database and does their work.

One dispatcher thread per process runs each import's QIDO-RS search a page at a time and
hands claimed studies to a pool of `concurrency` threads; each fetches the study's
WADO-RS metadata (that answer is a dump) and ingests it through service.usecases.ingest, the path
of POST /v1/dumps: atomic and idempotent. At most `concurrency` dumps are in memory.

The database holds all the state (service/store/imports.py), so a process that dies
loses nothing but its leases: after `lease_seconds` its claims go to whoever asks next,
on this replica or another. The app factory starts a worker when
DICOM_RESOLVER_IMPORT_WORKER is on; `dicom-resolver pull` and tests call `run(import_id)`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol

import orjson
from sqlalchemy import Engine

from service.bulkdata.store_reader import StoreReader
from service.errors import ServiceError
from service.settings import Settings
from service.store import imports as store
from service.usecases.ingest import ingest_bytes

log = logging.getLogger(__name__)

MAX_REASON = 500


class ImportMetrics(Protocol):
    def count_import_study(self, outcome: str, instances: int) -> None: ...


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 8
    lease_seconds: float = 120.0
    poll_seconds: float = 1.0
    max_attempts: int = 5
    page_size: int = 1000
    max_depth: int = 16

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerOptions:
        return cls(concurrency=max(1, settings.import_concurrency),
                   lease_seconds=settings.import_lease_seconds,
                   poll_seconds=settings.import_poll_seconds,
                   max_attempts=settings.import_max_attempts,
                   page_size=settings.import_page_size,
                   max_depth=settings.max_sequence_depth)


@dataclass(frozen=True)
class StudyOutcome:
    study_uid: str
    state: str  # done, unchanged or failed
    instances: int


class ImportWorker:
    """Claims and runs import work; `start()` in the background or `run()` in front."""

    def __init__(self, engine: Engine, reader_for: Callable[[str], StoreReader],
                 options: WorkerOptions, *, metrics: ImportMetrics | None = None,
                 owner: str | None = None) -> None:
        self._engine = engine
        self._reader_for = reader_for
        self.options = options
        self._metrics = metrics
        # Who holds a claim, for the logs and the database: host, process, a random tail.
        self.owner = owner or f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> ImportWorker:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._serve, name="import-worker",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the studies under way (their results are recorded) and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Look for work now (an import was just queued) instead of at the next poll."""
        self._wake.set()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                self.run(None)
            except Exception:  # noqa: BLE001 - the database away for a while, say: a worker
                # that died of it would stall every import of this replica for good
                log.exception("import worker error; starting again shortly")
                self._stop.wait(max(5.0, self.options.poll_seconds))

    # -- the loop -----------------------------------------------------------------------

    def run(self, import_id: str | None,
            on_study: Callable[[StudyOutcome], None] | None = None) -> None:
        """Work until stopped (`import_id` None) or until that import has finished."""
        options = self.options
        in_flight: dict[Future[StudyOutcome], store.StudyClaim] = {}
        # Claimed ahead, not started: a claim costs a write transaction (on SQLite it
        # queues behind the ingests), so claims are taken a batch at a time.
        backlog: deque[store.StudyClaim] = deque()
        search: store.SearchClaim | None = None
        renewed = time.monotonic()
        with ThreadPoolExecutor(options.concurrency,
                                thread_name_prefix="import-study") as pool:
            while not self._stop.is_set():
                if (in_flight or backlog) and \
                        time.monotonic() - renewed > options.lease_seconds / 3:
                    store.renew_leases(self._engine, self.owner, options.lease_seconds)
                    renewed = time.monotonic()
                if search is None:
                    search = store.claim_search(self._engine, self.owner,
                                                options.lease_seconds, import_id)
                if search is not None:
                    search = self._search_page(search)
                claims: list[store.StudyClaim] = []
                if len(backlog) + len(in_flight) <= options.concurrency:
                    claims = store.claim_studies(
                        self._engine, self.owner,
                        2 * options.concurrency - len(in_flight) - len(backlog),
                        options.lease_seconds, import_id)
                    backlog.extend(claims)
                while backlog and len(in_flight) < options.concurrency:
                    claim = backlog.popleft()
                    in_flight[pool.submit(self._run_study, claim)] = claim
                if not in_flight and search is None:
                    store.finish_imports(self._engine)
                    if import_id is not None and not self._unfinished(import_id):
                        return
                if in_flight and (search is None or len(in_flight) >= options.concurrency):
                    done, _ = wait(in_flight, timeout=options.poll_seconds,
                                   return_when=FIRST_COMPLETED)
                    for future in done:
                        in_flight.pop(future)
                        outcome = future.result()
                        if on_study is not None:
                            on_study(outcome)
                    if done:
                        store.finish_imports(self._engine)
                elif not in_flight and search is None and not claims:
                    self._wake.wait(options.poll_seconds)
                    self._wake.clear()
            # Stopping: let the studies under way finish and be recorded; the backlog's
            # claims go back to the queue.
            for future in in_flight:
                future.result()
            store.release_studies(self._engine, list(backlog), self.owner)

    def _unfinished(self, import_id: str) -> bool:
        row = store.read(self._engine, import_id)
        return row is not None and row["state"] in store.ACTIVE

    # -- the search -----------------------------------------------------------------------

    def _search_page(self, claim: store.SearchClaim) -> store.SearchClaim | None:
        """Fetch and record one page; the claim to continue with, or None when finished."""
        filters = orjson.loads(claim.selection).get("filters", {})
        try:
            page = self._reader_for(claim.store).search_studies(
                filters, claim.offset, self.options.page_size)
        except (ServiceError, ValueError) as exc:
            log.warning("import %s: study search failed: %s", claim.import_id,
                        type(exc).__name__)
            store.fail_search(self._engine, claim.import_id, _reason(exc))
            return None
        next_offset = claim.offset + len(page.study_uids)
        done = not page.more or not page.study_uids
        if not store.record_search_page(self._engine, claim, self.owner, claim.offset,
                                        page.study_uids, next_offset, done,
                                        self.options.lease_seconds):
            return None  # cancelled, or another replica took the search over
        log.info("import %s: %d studies found at offset %d", claim.import_id,
                 len(page.study_uids), claim.offset)
        if done:
            return None
        return store.SearchClaim(claim.import_id, claim.store, claim.selection, next_offset)

    # -- one study ---------------------------------------------------------------------------

    def _run_study(self, claim: store.StudyClaim) -> StudyOutcome:
        state, instances, reason = self._ingest_study(claim)
        if store.finish_study(self._engine, claim, self.owner, state, instances, reason):
            if self._metrics is not None:
                self._metrics.count_import_study(state, instances)
        else:
            log.warning("import %s: the claim of study %s was lost before it finished",
                        claim.import_id, claim.study_uid)
        return StudyOutcome(claim.study_uid, state, instances)

    def _ingest_study(self, claim: store.StudyClaim) -> tuple[str, int, str | None]:
        if claim.attempts > self.options.max_attempts:
            return "failed", 0, f"abandoned after {claim.attempts - 1} attempts"
        try:
            body = self._reader_for(claim.store).study_metadata(claim.study_uid)
            result = ingest_bytes(self._engine, body, max_depth=self.options.max_depth)
        except (ServiceError, ValueError) as exc:
            log.warning("import %s: study %s failed: %s", claim.import_id, claim.study_uid,
                        type(exc).__name__)
            return "failed", 0, _reason(exc)
        except Exception as exc:  # noqa: BLE001 - reported on the study, not lost in a thread
            log.exception("import %s: study %s failed unexpectedly", claim.import_id,
                          claim.study_uid)
            return "failed", 0, f"internal error ({type(exc).__name__})"
        unchanged = result["created"] == 0 and result["updated"] == 0
        return ("unchanged" if unchanged else "done"), int(result["received"]), None


def _reason(exc: Exception) -> str:
    """What went wrong, fit for the import resource: titles, statuses, UIDs — never data."""
    if isinstance(exc, ServiceError):
        text = f"{exc.title}: {exc.detail}"
        upstream = exc.extra.get("upstream_status")
        retries = exc.extra.get("retries")
        if retries:
            text += f" (after {retries} retries)"
        if upstream is not None and str(upstream) not in text:
            text += f" (upstream {upstream})"
    else:
        text = str(exc)
    return text[:MAX_REASON]
