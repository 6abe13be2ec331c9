"""Scale: ingest rate and query latency on an empty store vs a store of N instances.

    .venv/bin/python -m bench.scale [--studies 10000] [--instances-per-study 100]
                                    [--database-url URL] [--keep] [--repeat 30] [--no-write]

The store (SQLite in a temporary folder, or a fresh schema of the PostgreSQL server of
--database-url) is filled with `--studies` CT/MR studies of `--instances-per-study`
instances each, generated on the fly and never written to disk: 14 template studies
from the fast generator (service.examples.fast.study_dump), each cloned per study with
every 2.25 UID, PatientID and AccessionNumber rewritten (one regex pass), so that every
study, series and instance is distinct. Each study is ingested as one dump through
service.usecases.ingest.ingest_bytes, the use case that POST /v1/dumps runs (parse, validate,
normalize, one store transaction) in this process: the HTTP hop adds a constant per dump
and nothing that grows with the store, and in-process ingest lets the bench count its CPU.

Measured, with the 1-minute load average beside each figure:
  * ingest rate (instances/s, wall and CPU of this process) of the first and the last
    5% of the studies (target: end ≥ 80% of start);
  * p50 of `--repeat` requests through the real Flask app (test client, no socket) at
    the empty store (the first 5% of studies + the probe studies) and at the full one
    (target: within 2×): QIDO study search by PatientID and by PatientName wildcard
    (whole answer, and one page of 10),
    instance search in a 1,000-instance series, a 100-instance study's metadata (metadata
    cache off: the database path), and the series metadata and geometry of a 3,000-slice
    series;
  * database size per instance (SQLite file after a WAL checkpoint; on PostgreSQL
    pg_total_relation_size of every table of the schema, per table);
  * the query plans (EXPLAIN QUERY PLAN / EXPLAIN) of the SELECT statements the service
    actually executes for those requests (captured from the engine), with scans flagged.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, postgres_schema  # noqa: E402
from bench.pixels import write_section  # noqa: E402
from service import create_app  # noqa: E402
from service.examples.fast import make_ct_dump, studies_specs, study_dump  # noqa: E402
from service.examples.uids import derive_uid  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.usecases.ingest import ingest_bytes  # noqa: E402

TEMPLATES = 14  # one per family name of the generator: PatientName searches find 1 in 14
PROBE_SERIES = 1000
LONG_SERIES = 3000
_CLONED = re.compile(rb"2\.25\.\d+|PAT-\d+|ACC-\d+")


def load() -> float:
    return os.getloadavg()[0]


class StudyCloner:
    """Distinct studies from a few generated templates (UIDs, PatientID, AccessionNumber)."""

    def __init__(self, instances_per_study: int) -> None:
        specs = studies_specs(TEMPLATES)
        self.templates = [orjson.dumps(study_dump(dataclasses.replace(
            spec, n_slices=instances_per_study, with_report=False))) for spec in specs]

    def study(self, index: int) -> bytes:
        mapping: dict[bytes, bytes] = {}

        def replace(found: re.Match[bytes]) -> bytes:
            old = found.group(0)
            new = mapping.get(old)
            if new is None:
                if old.startswith(b"2.25."):
                    new = derive_uid("scale", index, old.decode()).encode()
                else:
                    new = b"%s-S%07d" % (old[:3], index)
                mapping[old] = new
            return new

        return _CLONED.sub(replace, self.templates[index % len(self.templates)])


class StatementLog:
    """The SELECT statements (with their parameters) the engine runs during `capture`.

    It listens only then: with a cursor-event listener on the engine, the QIDO search runs
    its statements through SQLAlchemy Core rather than on the driver connection
    (service/store/prepared.py), and the timed requests must take the service's own path.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: dict[str, Any] = {}

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
              executemany: bool) -> None:
        if not executemany and statement.lstrip().upper().startswith("SELECT"):
            self.statements.setdefault(statement, parameters)

    @contextlib.contextmanager
    def capture(self) -> Iterator[None]:
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)
        try:
            yield
        finally:
            sa.event.remove(self.engine, "before_cursor_execute", self._seen)


def explain(engine: sa.Engine, statement: str, parameters: Any) -> tuple[list[str], list[str]]:
    """The plan of one captured statement, and the lines of it that scan a whole table."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        # The captured statement is the service's own compiled SQL; only the prefix is ours.
        rows = connection.exec_driver_sql(
            ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters).all()
    plan = [str(row[-1]) for row in rows]
    if sqlite:
        # A scan of a materialized subquery (a page of at most `limit` keys) reads no table.
        materialized = {line.split()[1] for line in plan if line.startswith("MATERIALIZE ")}
        scans = [line for line in plan if line.startswith("SCAN ") and "CONSTANT" not in line
                 and line.split()[1] not in materialized]
    else:
        scans = [line.strip() for line in plan if "Seq Scan" in line]
    return plan, scans


def p50_ms(client: Any, path: str, repeat: int) -> float:
    timings = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        answer = client.get(path)
        elapsed = (time.perf_counter() - started) * 1e3
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.data[:300]!r}")
        timings.append(elapsed)
    return statistics.median(timings[1:])  # the first one warms caches and connections


def database_bytes(engine: sa.Engine) -> tuple[int, dict[str, int]]:
    """Total bytes of the store, and per table where the database tells (PostgreSQL)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(engine.url.database or "")
        wal = path.with_name(path.name + "-wal")
        return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0), {}
    sizes = sa.text(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 2 DESC")
    with engine.connect() as connection:
        tables = {name: int(size) for name, size in connection.execute(sizes)}
    return sum(tables.values()), tables


@dataclasses.dataclass
class Window:
    instances: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    loads: list[float] = dataclasses.field(default_factory=list)

    def add(self, instances: int, wall: float, cpu: float) -> None:
        self.instances += instances
        self.wall += wall
        self.cpu += cpu
        self.loads.append(load())

    @property
    def wall_rate(self) -> float:
        return self.instances / self.wall

    @property
    def cpu_rate(self) -> float:
        return self.instances / self.cpu


def ingest_timed(engine: sa.Engine, body: bytes) -> tuple[int, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    answer = ingest_bytes(engine, body)
    return answer["received"], time.perf_counter() - wall, time.process_time() - cpu


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    settings = Settings.load(environ={}, database_url=url, migrate_on_start=True,
                             log_level="WARNING", dicomweb_metadata_cache_bytes=0)
    app = create_app(settings)
    engine: sa.Engine = app.extensions["engine"]
    client = app.test_client()
    log = StatementLog(engine)
    started = time.perf_counter()
    cloner = StudyCloner(args.instances_per_study)
    probe = make_ct_dump(PROBE_SERIES, seed=7001)
    long_series = make_ct_dump(LONG_SERIES, seed=7002)
    print(f"templates and probe studies generated in {time.perf_counter() - started:.1f} s "
          f"(load {load():.1f})", flush=True)
    window = max(1, args.studies // 20)
    first, last = Window(), Window()

    def fill(indexes: range, measured: Window | None) -> None:
        for index in indexes:
            count, wall, cpu = ingest_timed(engine, cloner.study(index))
            if measured is not None:
                measured.add(count, wall, cpu)
            if index % max(1, args.studies // 20) == 0:
                print(f"  {index}/{args.studies} studies, {time.perf_counter() - started:.0f} s,"
                      f" load {load():.1f}", flush=True)

    fill(range(window), first)
    probe_bytes, long_bytes = orjson.dumps(probe), orjson.dumps(long_series)
    probe_ingest = ingest_timed(engine, probe_bytes)
    long_ingest = ingest_timed(engine, long_bytes)
    one = orjson.loads(cloner.study(window // 2))[0]
    patient_id = one["00100020"]["Value"][0]
    family = one["00100010"]["Value"][0]["Alphabetic"].split("^")[0]
    study_uid = one["0020000D"]["Value"][0]

    def uids(dump: list[dict]) -> tuple[str, str]:
        return dump[0]["0020000D"]["Value"][0], dump[0]["0020000E"]["Value"][0]

    probe_study, probe_series = uids(probe)
    long_study, long_series_uid = uids(long_series)
    requests: list[tuple[str, str]] = [
        ("QIDO study search by PatientID", f"/dicomweb/studies?PatientID={patient_id}"),
        ("QIDO study search by PatientName wildcard",
         f"/dicomweb/studies?PatientName={family}*"),
        # The same search, one page of 10: the answer above grows with the store (1 study
        # in 14 matches, up to the default limit of 100), this one measures the search.
        ("QIDO study search by PatientName wildcard, limit 10",
         f"/dicomweb/studies?PatientName={family}*&limit=10"),
        (f"QIDO instance search in a {PROBE_SERIES}-instance series",
         f"/dicomweb/studies/{probe_study}/series/{probe_series}/instances?limit=1000"),
        (f"study metadata, {args.instances_per_study} instances (cache off)",
         f"/dicomweb/studies/{study_uid}/metadata"),
        (f"series metadata, {LONG_SERIES} slices (cache off)",
         f"/dicomweb/studies/{long_study}/series/{long_series_uid}/metadata"),
        (f"series geometry, {LONG_SERIES} slices",
         f"/v1/studies/{long_study}/series/{long_series_uid}/geometry"),
    ]

    def query_all() -> dict[str, tuple[float, float]]:
        return {name: (p50_ms(client, path, args.repeat), load()) for name, path in requests}

    empty = query_all()
    empty_size = database_bytes(engine)
    for name, (ms, at) in empty.items():
        print(f"empty store: {name}: p50 {ms:.2f} ms (load {at:.1f})", flush=True)
    fill(range(window, args.studies - window), None)
    fill(range(max(window, args.studies - window), args.studies), last)
    if engine.dialect.name == "postgresql":
        # What autovacuum does after a bulk load (PostgreSQL ≥ 13 vacuums insert-only
        # tables too): statistics, and the visibility map that index-only scans need.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE)")
    full = query_all()
    for name, (ms, at) in full.items():
        print(f"full store: {name}: p50 {ms:.2f} ms (load {at:.1f})", flush=True)
    with log.capture():
        for _name, path in requests:
            client.get(path)
    plans = [(statement, *explain(engine, statement, parameters))
             for statement, parameters in log.statements.items()]
    total = args.studies * args.instances_per_study + PROBE_SERIES + LONG_SERIES
    size, tables = database_bytes(engine)
    engine.dispose()
    return {"first": first, "last": last, "empty": empty, "full": full, "plans": plans,
            "size": size, "tables": tables, "total": total, "empty_size": empty_size,
            "empty_total": window * args.instances_per_study + PROBE_SERIES + LONG_SERIES,
            "probe_ingest": probe_ingest, "long_ingest": long_ingest,
            "elapsed": time.perf_counter() - started}


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    first, last = result["first"], result["last"]
    lines = ["| ingest window | studies | instances | instances/s (wall) | instances/s "
             "(CPU of this process) | load (1 min) during |", "|---|---|---|---|---|---|"]
    for label, window in (("first 5% (empty store)", first), ("last 5% (full store)", last)):
        lines.append(f"| {label} | {len(window.loads)} | {window.instances:,} | "
                     f"{window.wall_rate:,.0f} | {window.cpu_rate:,.0f} | "
                     f"{min(window.loads):.1f}–{max(window.loads):.1f} |")
    wall_ratio, cpu_ratio = last.wall_rate / first.wall_rate, last.cpu_rate / first.cpu_rate
    lines.append(f"\nEnd / start ingest rate: {wall_ratio:.0%} wall, {cpu_ratio:.0%} CPU "
                 f"(target ≥ 80%: {'met' if min(wall_ratio, cpu_ratio) >= 0.8 else 'NOT met'}"
                 f"). Probe dumps: {PROBE_SERIES} instances in "
                 f"{result['probe_ingest'][1]:.2f} s, {LONG_SERIES} in "
                 f"{result['long_ingest'][1]:.2f} s.\n")
    lines += [f"| request (p50 of {args.repeat}) | empty store ms (load) | full store ms "
              "(load) | full / empty |", "|---|---|---|---|"]
    for name, (empty_ms, empty_load) in result["empty"].items():
        full_ms, full_load = result["full"][name]
        ratio = full_ms / empty_ms
        lines.append(f"| {name} | {empty_ms:.2f} ({empty_load:.1f}) | {full_ms:.2f} "
                     f"({full_load:.1f}) | {ratio:.2f}× {'' if ratio <= 2 else '**> 2×**'} |")
    empty_size, _ = result["empty_size"]
    lines.append(f"\nDatabase size: {result['size'] / 2**20:,.1f} MiB for {result['total']:,} "
                 f"instances = {result['size'] / result['total']:,.0f} bytes/instance "
                 f"(empty store: {empty_size / result['empty_total']:,.0f} bytes/instance over "
                 f"{result['empty_total']:,}).")
    if result["tables"]:
        lines.append("Per table: " + ", ".join(
            f"{name} {size / 2**20:,.1f} MiB" for name, size in result["tables"].items()) + ".")
    lines.append("\n### Query plans at the full store (statements captured from the engine)\n")
    for statement, plan, scans in result["plans"]:
        flag = ("**SCAN: " + "; ".join(scans) + "**") if scans else "no full scan"
        short = " ".join(statement.split())
        if not scans and len(short) > 160:  # a flagged statement is shown whole
            short = short[:160] + "…"
        lines.append(f"- {flag} — `{short}`")
        lines += [f"    - `{line}`" for line in plan]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--instances-per-study", type=int, default=100)
    parser.add_argument("--database-url", help="PostgreSQL server URL (a fresh schema is used)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the store (SQLite folder or PostgreSQL schema) and say where")
    parser.add_argument("--repeat", type=int, default=30, help="requests per p50")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    logging.getLogger("service").setLevel(logging.WARNING)
    info = machine()
    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    store: Callable[[], contextlib.AbstractContextManager[str]] = (
        (lambda: postgres_schema(args.database_url, keep=args.keep)) if args.database_url
        else (lambda: contextlib.nullcontext(f"sqlite:///{folder / 'store.sqlite3'}")))
    try:
        with store() as url:
            result = run(args, url)
            if args.keep:
                print(f"store kept: {url}")
    finally:
        if not args.keep:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
    text = report(result, args)
    print(text)
    if not args.no_write:
        backend = "PostgreSQL" if args.database_url else "SQLite"
        title = f"Scale ({backend}, {result['total']:,} instances)"
        end = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        section = (
            f"\n## {title} — {dt.datetime.now():%Y-%m-%d %H:%M}\n\n"
            f"nproc {info['nproc']} ({info['cpu']}, {info['memory']}), Python "
            f"{info['python']}, load average at the start {info['load average at start']}, "
            f"at the end {end}. `python -m bench.scale --studies {args.studies} "
            f"--instances-per-study {args.instances_per_study}"
            f"{' --database-url …' if args.database_url else ''}`: {args.studies:,} studies × "
            f"{args.instances_per_study} instances + one {PROBE_SERIES}-instance and one "
            f"{LONG_SERIES}-instance series = {result['total']:,} instances, ingested in "
            f"process through service.usecases.ingest.ingest_bytes (one dump per study); queries "
            f"through the Flask app's test client; {result['elapsed'] / 60:.1f} min in all.\n\n"
            f"{text}\n")
        write_section(title, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
