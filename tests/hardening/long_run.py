"""The fuzz properties of fuzzing.py for as long as you like: random (not derandomized)
examples in rounds, every failure written to a folder and the run carried on.

    .venv/bin/python -m tests.hardening.long_run --examples 20000
    .venv/bin/python -m tests.hardening.long_run --examples 5000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test  # a fresh schema

It prints, per round and at the end, the examples run, the statuses seen and the
failures (each saved as <out>/<n>-dump.json or <n>-query.txt with its answer), and
exits 1 if there was any. The CI suite runs the same properties bounded (test_fuzz.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from service.emulator.server import Emulator
from service.examples.factory import write_dicom_files
from service.store.schema import metadata
from tests.hardening.conftest import route_values, study_dump_of, study_of
from tests.hardening.fuzzing import (
    DumpProperty,
    QueryProperty,
    mutated_dumps,
    query_strings,
    route_uids,
    seed_dumps,
    spec_parameters,
)
from tests.support.database import fresh_schema
from tests.support.emulated import (
    close_app,
    emulated_app,
    emulated_settings,
    emulator_credentials,
    new_account,
)
from tests.support.routes import get_routes


@contextmanager
def fuzzed_app(database_url: str | None, work: Path) -> Iterator[tuple[Flask, dict, list]]:
    """The app of tests/hardening/conftest.py: the emulator serving the study's pixels,
    the store (SQLite in `work`, or a fresh schema of `database_url`) holding it."""
    datasets = study_of()
    write_dicom_files(datasets, work / "files")
    with ExitStack() as stack:
        emulator = stack.enter_context(Emulator(work / "files", account=new_account()))
        if database_url:
            schemas = fresh_schema(database_url)
            url = next(schemas)
            stack.callback(lambda: next(schemas, None))  # drops the schema
        else:
            url = f"sqlite:///{work / 'store.sqlite3'}"
        app = emulated_app(emulated_settings(emulator, database_url=url, migrate_on_start=True),
                           credentials=emulator_credentials(emulator),
                           dumps=[study_dump_of(datasets)])
        stack.callback(close_app, app)
        yield app, route_values(datasets), study_dump_of(datasets)


def empty_store(app: Flask) -> None:
    with app.extensions["engine"].begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


class Failures:
    def __init__(self, folder: Path) -> None:
        self.folder, self.count = folder, 0

    def keep(self, kind: str, payload: bytes, error: BaseException) -> None:
        self.count += 1
        stem = self.folder / f"{self.count:04d}-{kind}"
        stem.with_suffix(".json" if kind == "dump" else ".txt").write_bytes(payload)
        stem.with_suffix(".error.txt").write_text("".join(
            traceback.format_exception_only(type(error), error))[:20000])
        print(f"  FAILURE {self.count} ({kind}): {str(error)[:300]}", flush=True)


def run_rounds(name: str, total: int, round_size: int, one_round: Callable[[int], None],
               tally: Any) -> None:
    started, done = time.monotonic(), 0
    while done < total:
        size = min(round_size, total - done)
        one_round(size)
        done += size
        print(f"{name}: {tally.examples} examples in {time.monotonic() - started:.0f} s, "
              f"statuses {dict(sorted(tally.statuses.items()))}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10000,
                        help="examples per property (default 10000)")
    parser.add_argument("--round", type=int, default=500, help="examples per round")
    parser.add_argument("--only", choices=("dumps", "queries"), help="one property only")
    parser.add_argument("--database-url", default=os.environ.get(
        "DICOM_RESOLVER_TEST_DATABASE_URL"), help="a PostgreSQL server (a fresh schema "
        "is made and dropped); default: $DICOM_RESOLVER_TEST_DATABASE_URL, else SQLite")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for failing examples (default: a new temporary one)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="dicom-resolver-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    failures = Failures(out)
    common = dict(database=None, deadline=None, derandomize=False,
                  phases=(Phase.explicit, Phase.generate),
                  suppress_health_check=list(HealthCheck))
    with tempfile.TemporaryDirectory(prefix="fuzz-store-") as work, \
            fuzzed_app(args.database_url, Path(work)) as (app, values, dump):
        print(f"store: {app.extensions['engine'].url.render_as_string()}; failures go to "
              f"{out}", flush=True)
        if args.only in (None, "dumps"):
            seeds = seed_dumps(dump)
            posting = DumpProperty(app)

            def dump_round(size: int) -> None:
                # Each round starts from the seeds alone: accepted mutations pile up, and
                # every example snapshots the whole store.
                empty_store(app)
                for seed in seeds:
                    app.test_client().post("/v1/dumps", json=seed)

                @settings(max_examples=size, **common)
                @given(mutated_dumps(seeds))
                def posted(body: bytes) -> None:
                    try:
                        posting.check(body)
                    except AssertionError as error:
                        failures.keep("dump", body, error)

                posted()

            run_rounds("dumps", args.examples, args.round, dump_round, posting.tally)
        if args.only in (None, "queries"):
            routes = get_routes(app, values)
            asking = QueryProperty(app)
            queries = query_strings(spec_parameters(), route_uids(values))

            def query_round(size: int) -> None:
                @settings(max_examples=size, **common)
                @given(st.sampled_from(routes), queries)
                def asked(route: Any, query: str) -> None:
                    try:
                        asking.check(route, query)
                    except AssertionError as error:
                        failures.keep("query", f"{route.url}?{query}".encode(), error)

                asked()

            run_rounds("queries", args.examples, args.round, query_round, asking.tally)
    print(f"done: {failures.count} failure(s)" + (f", in {out}" if failures.count else ""))
    return 1 if failures.count else 0


if __name__ == "__main__":
    sys.exit(main())
