"""Contention benchmark: two replicas on one PostgreSQL database, clients sending
overlapping and updated dumps of the same studies at once.

    .venv/bin/python -m bench.contention --seconds 60 --clients 8

Two `dicom-resolver serve` masters (separate gunicorn processes, as two replicas
would be) share a fresh schema of the PostgreSQL server of `--database-url` (default:
the test suite's DICOM_RESOLVER_TEST_DATABASE_URL, else the local test server). Every client loops
for `--seconds`: it picks a study, an overlapping window of its instances (or the
whole study) and a revision of an instance-level attribute (ImageComments), so
that a dump creates, updates or leaves unchanged instances that other clients are
writing at the same moment, and posts it to one replica or the other.

Printed: the answers by status (a 503 is "store busy, retry": a client sees the
contention), then what the store holds against what was acknowledged: instances
acknowledged but not stored (lost), rows per SOP Instance UID beyond one
(duplicated), studies and series whose stored counts disagree with their rows,
stored instances whose revision was never sent. Throughput (dumps/s, instances/s),
latency percentiles and the replicas' CPU per dump are printed beside a same-run
baseline: one client sending the same kind of dumps with no one to contend with.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import requests
import sqlalchemy as sa

from bench.common import ROOT, cpu_ticks, machine, median, percentile, stop_process, wait_ready
from dicom_resolver_testing.stack import free_port
from service.examples.factory import StudySpec, make_dump, make_study

HEADERS = {"Content-Type": "application/dicom+json"}
TICK = 1 / os.sysconf("SC_CLK_TCK")
CLI = Path(sys.executable).with_name("dicom-resolver")
IMAGE_COMMENTS = "00204000"
REVISIONS = 3  # revisions of ImageComments a client chooses from (plus "as generated")


@dataclass
class Replica:
    url: str
    process: subprocess.Popen
    log_path: Path

    def pids(self) -> list[int]:
        """The master and its gunicorn workers."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [self.process.pid, *(int(pid) for pid in children.read_text().split())]

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                total += cpu_ticks(pid)
        return total * TICK


@contextlib.contextmanager
def fresh_schema(server_url: str) -> Iterator[str]:
    """A URL of a new, empty schema on the server; dropped on exit."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema))
    try:
        yield sa.make_url(server_url).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema, cascade=True))
        admin.dispose()


@contextlib.contextmanager
def replicas(database_url: str, count: int, workers: int) -> Iterator[list[Replica]]:
    """`count` gunicorn masters on `database_url`, ready; stopped on exit."""
    folder = Path(tempfile.mkdtemp(prefix="dicom-resolver-contention-"))
    started: list[tuple[Replica, object]] = []
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("DICOM_RESOLVER_")}
    env.update(DICOM_RESOLVER_DATABASE_URL=database_url, DICOM_RESOLVER_MIGRATE_ON_START="true",
               DICOM_RESOLVER_LOG_LEVEL="WARNING")
    try:
        for index in range(count):
            port = free_port()
            log_path = folder / f"replica-{index}.log"
            log = log_path.open("wb")
            process = subprocess.Popen(
                [str(CLI), "serve", "--no-demo", "--host", "127.0.0.1", "--port", str(port),
                 "--workers", str(workers)], cwd=ROOT, env=env, stdout=log, stderr=log)
            replica = Replica(f"http://127.0.0.1:{port}", process, log_path)
            started.append((replica, log))
            wait_ready(replica.url, process, log_path, timeout=90)
        yield [replica for replica, _ in started]
    finally:
        for replica, log in started:
            stop_process(replica.process, log)  # type: ignore[arg-type]


def study_dumps(n_studies: int, seed: int) -> list[list[dict]]:
    """DICOM JSON of `n_studies` small studies (3 series of 10 CT slices and a report)."""
    return [make_dump(make_study(StudySpec(seed=seed + index, n_slices=10, n_series=3,
                                           rows=16, columns=16,
                                           patient_id=f"CONTENTION-{seed + index}")))
            for index in range(n_studies)]


def revised(instances: list[dict], revision: int) -> list[dict]:
    """The instances with ImageComments set to `revision` (0: as generated)."""
    if revision == 0:
        return instances
    return [{**instance, IMAGE_COMMENTS: {"vr": "LT", "Value": [f"revision {revision}"]}}
            for instance in instances]


def windows(size: int) -> list[slice]:
    """Overlapping windows of a study's instances, and the whole study."""
    step = max(1, size // 4)
    return [slice(start, start + size // 2) for start in range(0, size - size // 2 + 1, step)] \
        + [slice(None)]


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)  # SOP Instance UIDs answered 200
    instances: int = 0  # instances in dumps answered 200
    samples: list[str] = field(default_factory=list)  # first bodies of unexpected answers
    lock: threading.Lock = field(default_factory=threading.Lock)


def client(urls: list[str], studies: list[list[dict]], deadline: float, seed: int,
           tally: Tally) -> None:
    chooser = random.Random(seed)
    with requests.Session() as session:
        while time.monotonic() < deadline:
            instances = chooser.choice(studies)
            window = chooser.choice(windows(len(instances)))
            dump = revised(instances[window], chooser.randrange(REVISIONS + 1))
            started = time.perf_counter()
            answer = session.post(chooser.choice(urls) + "/v1/dumps", data=orjson.dumps(dump),
                                  headers=HEADERS, timeout=120)
            elapsed = time.perf_counter() - started
            with tally.lock:
                tally.statuses[answer.status_code] += 1
                tally.latencies.append(elapsed)
                if answer.status_code == 200:
                    tally.acknowledged.update(i["00080018"]["Value"][0] for i in dump)
                    tally.instances += len(dump)
                elif len(tally.samples) < 3:
                    tally.samples.append(f"{answer.status_code} {answer.text[:300]}")


def run_load(replica_list: list[Replica], studies: list[list[dict]], clients: int,
             seconds: float, seed: int) -> tuple[Tally, float, float]:
    """`clients` threads for `seconds`; the tally, the wall time and the replicas' CPU s."""
    tally = Tally()
    urls = [replica.url for replica in replica_list]
    cpu = sum(replica.cpu_seconds() for replica in replica_list)
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=client, args=(urls, studies, deadline, seed + index,
                                                     tally)) for index in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return tally, wall, sum(replica.cpu_seconds() for replica in replica_list) - cpu


def audit(database_url: str, tally: Tally, studies: list[list[dict]]) -> dict[str, int]:
    """What the store holds against what the clients were told."""
    sent_revisions = {None} | {f"revision {n}" for n in range(1, REVISIONS + 1)}
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT sop_uid, series_uid, study_uid, dicom_json FROM instances")).all()
            series_counts = dict(connection.execute(sa.text(
                "SELECT series_uid, instance_count FROM series")).all())
            study_counts = dict(connection.execute(sa.text(
                "SELECT study_uid, instance_count FROM studies")).all())
    finally:
        engine.dispose()
    per_uid = Counter(sop for sop, _, _, _ in rows)
    actual_series = Counter(series_uid for _, series_uid, _, _ in rows)
    actual_studies = Counter(study_uid for _, _, study_uid, _ in rows)
    unknown_revisions = 0
    for _, _, _, stored in rows:
        comment = orjson.loads(stored).get(IMAGE_COMMENTS, {}).get("Value", [None])[0]
        unknown_revisions += comment not in sent_revisions
    known = {i["00080018"]["Value"][0] for instances in studies for i in instances}
    return {
        "lost": len(tally.acknowledged - set(per_uid)),
        "duplicated": sum(count - 1 for count in per_uid.values()),
        "never sent": len(set(per_uid) - known),
        "series count drift": sum(series_counts.get(uid) != n
                                  for uid, n in actual_series.items()),
        "study count drift": sum(study_counts.get(uid) != n
                                 for uid, n in actual_studies.items()),
        "unknown revisions": unknown_revisions,
    }


def report(name: str, tally: Tally, wall: float, cpu: float) -> None:
    dumps = sum(tally.statuses.values())
    busy = tally.statuses.get(503, 0)
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(tally.statuses.items()))
    print(f"{name}: {dumps} dumps in {wall:.1f} s ({statuses}); "
          f"503s {busy} ({100 * busy / max(dumps, 1):.1f}%)")
    print(f"  {dumps / wall:.1f} dumps/s, {tally.instances / wall:.0f} instances/s stored or "
          f"confirmed; latency p50 {1000 * median(tally.latencies):.0f} ms, p95 "
          f"{1000 * percentile(tally.latencies, 0.95):.0f} ms, max "
          f"{1000 * max(tally.latencies):.0f} ms; replicas' CPU {1000 * cpu / max(dumps, 1):.0f} "
          f"ms per dump")
    for sample in tally.samples:
        print("  sample of an answer other than 200:", sample)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per replica")
    parser.add_argument("--studies", type=int, default=3, help="studies the clients share")
    parser.add_argument("--baseline-seconds", type=float, default=15)
    parser.add_argument("--seed", type=int, default=7000)
    parser.add_argument("--database-url", default=os.environ.get(
        "DICOM_RESOLVER_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL server (a schema is made and dropped in it)")
    args = parser.parse_args(argv)
    server_url = args.database_url

    print("machine:", ", ".join(f"{key} {value}" for key, value in machine().items()))
    studies = study_dumps(args.studies, args.seed)
    print(f"load: {args.replicas} replicas x {args.workers} gunicorn workers on one PostgreSQL "
          f"schema; {args.studies} studies of {len(studies[0])} instances; windows of "
          f"{len(windows(len(studies[0]))) - 1} overlapping halves or the whole study; "
          f"{REVISIONS} revisions of ImageComments", flush=True)
    with fresh_schema(server_url) as database_url, \
            replicas(database_url, args.replicas, args.workers) as replica_list:
        baseline = run_load(replica_list, studies, 1, args.baseline_seconds, args.seed)
        report("baseline, 1 client", *baseline)
        loaded = run_load(replica_list, studies, args.clients, args.seconds, args.seed + 100)
        report(f"contention, {args.clients} clients", *loaded)
        tally = loaded[0]
        tally.acknowledged |= baseline[0].acknowledged
        findings = audit(database_url, tally, studies)
        print("store after both runs:", ", ".join(f"{key} {value}"
                                                    for key, value in findings.items()))
        tracebacks = sum(replica.log_path.read_text(errors="replace").count("Traceback")
                         for replica in replica_list)
        print(f"tracebacks in the replicas' logs: {tracebacks}")
    return 0 if not any(findings.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
