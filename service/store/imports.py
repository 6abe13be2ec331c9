"""SQL of imports: the job rows, claims with leases, progress and the Pub/Sub message log.

Claims are how replicas share work. On PostgreSQL a claim is
`SELECT … FOR UPDATE SKIP LOCKED` under READ COMMITTED: two replicas claiming at once
get disjoint rows without waiting on each other. On SQLite the claim runs in a write
transaction (BEGIN IMMEDIATE), which serializes claimers: same outcome. A claim holds a
lease; a claim whose lease ran out (its replica died) is claimed again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from service.store.schema import import_studies, imports, pubsub_messages

ACTIVE = ("queued", "running")
FINISHED_STUDY = ("done", "unchanged", "failed", "cancelled")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class StudyClaim:
    import_id: str
    store: str
    study_uid: str
    attempts: int


@dataclass(frozen=True)
class SearchClaim:
    import_id: str
    store: str
    selection: bytes
    offset: int


def _writing(engine: Engine) -> Connection:
    """A connection for job-state writes: a write transaction on SQLite (BEGIN IMMEDIATE);
    READ COMMITTED on PostgreSQL, where every statement re-checks its conditions on the
    rows it updates (owner, state), so serializable isolation would only add retries."""
    return engine.connect().execution_options(write=engine.dialect.name == "sqlite")


def _any(engine: Engine, query: Select[Any]) -> bool:
    """Whether `query` finds a row, asked without taking the write lock: most looks for
    work find none, and on SQLite a write transaction would queue behind every ingest."""
    with engine.connect() as connection:
        return connection.execute(query.limit(1)).first() is not None


def create(engine: Engine, import_id: str, store: str, selection: bytes,
           study_uids: list[str] | None) -> None:
    """A queued import; with `study_uids` its studies are known and no search is needed."""
    with _writing(engine) as connection, connection.begin():
        connection.execute(insert(imports).values(
            id=import_id, store=store, selection=selection, state="queued",
            created_at=now(), search_done=study_uids is not None, search_offset=0))
        if study_uids:
            _add_studies(connection, import_id, study_uids, 0)


def _add_studies(connection: Connection, import_id: str, study_uids: Iterable[str],
                 first_position: int) -> None:
    rows = [{"import_id": import_id, "study_uid": uid, "position": first_position + index,
             "state": "queued", "attempts": 0, "instances": 0}
            for index, uid in enumerate(study_uids)]
    if not rows:
        return
    dialect = connection.dialect.name
    # A search page seen twice (a search taken over after its lease ran out) adds nothing.
    statement = (postgresql.insert(import_studies) if dialect == "postgresql"
                 else sqlite.insert(import_studies)).on_conflict_do_nothing()
    connection.execute(statement, rows)


def read(engine: Engine, import_id: str) -> dict[str, Any] | None:
    """The import row and its studies' counts by state, instances, and failures."""
    with engine.connect() as connection:
        row = connection.execute(select(imports).where(imports.c.id == import_id)).first()
        if row is None:
            return None
        counts: dict[str, int] = dict(connection.execute(
            select(import_studies.c.state, func.count())
            .where(import_studies.c.import_id == import_id)
            .group_by(import_studies.c.state)).all())
        instances = connection.execute(
            select(func.coalesce(func.sum(import_studies.c.instances), 0))
            .where(import_studies.c.import_id == import_id)).scalar_one()
        failures = connection.execute(
            select(import_studies.c.study_uid, import_studies.c.reason)
            .where(import_studies.c.import_id == import_id,
                   import_studies.c.state == "failed")
            .order_by(import_studies.c.position).limit(1000)).all()
    return {**row._asdict(), "counts": counts, "instances": int(instances),
            "failures": [{"study_uid": uid, "reason": reason} for uid, reason in failures]}


def list_unfinished(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(
            select(imports.c.id).where(imports.c.state.in_(ACTIVE))
            .order_by(imports.c.created_at)).scalars())


def cancel(engine: Engine, import_id: str) -> bool:
    """Cancel an unfinished import and its queued studies; False if it had finished."""
    with _writing(engine) as connection, connection.begin():
        changed = connection.execute(
            update(imports).where(imports.c.id == import_id, imports.c.state.in_(ACTIVE))
            .values(state="cancelled", finished_at=now())).rowcount
        if changed:
            connection.execute(
                update(import_studies)
                .where(import_studies.c.import_id == import_id,
                       import_studies.c.state == "queued")
                .values(state="cancelled", finished_at=now()))
    return bool(changed)


def claim_search(engine: Engine, owner: str, lease_seconds: float,
                 import_id: str | None = None) -> SearchClaim | None:
    """An unfinished import whose search nobody runs (or whose runner's lease ran out)."""
    moment = now()
    query = (select(imports.c.id, imports.c.store, imports.c.selection,
                    imports.c.search_offset)
             .where(imports.c.state.in_(ACTIVE), imports.c.search_done.is_(False),
                    or_(imports.c.search_lease_until.is_(None),
                        imports.c.search_lease_until < moment))
             .order_by(imports.c.created_at).limit(1))
    if import_id is not None:
        query = query.where(imports.c.id == import_id)
    if not _any(engine, query):
        return None
    with _writing(engine) as connection, connection.begin():
        row = connection.execute(query.with_for_update(skip_locked=True)).first()
        if row is None:
            return None
        connection.execute(
            update(imports).where(imports.c.id == row.id)
            .values(search_owner=owner, state="running",
                    search_lease_until=moment + dt.timedelta(seconds=lease_seconds),
                    started_at=func.coalesce(imports.c.started_at, moment)))
    return SearchClaim(row.id, row.store, row.selection, row.search_offset)


def record_search_page(engine: Engine, claim: SearchClaim, owner: str, offset: int,
                       study_uids: list[str], next_offset: int, done: bool,
                       lease_seconds: float) -> bool:
    """Add one page's studies and move the search on; False when the search is no longer
    ours (cancelled, or taken over after our lease ran out)."""
    with _writing(engine) as connection, connection.begin():
        moved = connection.execute(
            update(imports)
            .where(imports.c.id == claim.import_id, imports.c.state.in_(ACTIVE),
                   imports.c.search_owner == owner, imports.c.search_offset == offset)
            .values(search_offset=next_offset, search_done=done,
                    search_lease_until=now() + dt.timedelta(seconds=lease_seconds))).rowcount
        if moved:
            _add_studies(connection, claim.import_id, study_uids, offset)
    return bool(moved)


def fail_search(engine: Engine, import_id: str, error: str) -> None:
    with _writing(engine) as connection, connection.begin():
        connection.execute(
            update(imports).where(imports.c.id == import_id, imports.c.state.in_(ACTIVE))
            .values(state="failed", error=error, finished_at=now(), search_done=True))
        connection.execute(
            update(import_studies)
            .where(import_studies.c.import_id == import_id, import_studies.c.state == "queued")
            .values(state="cancelled", finished_at=now()))


def claim_studies(engine: Engine, owner: str, count: int, lease_seconds: float,
                  import_id: str | None = None) -> list[StudyClaim]:
    """Up to `count` queued studies (or studies whose claim expired), now owned by `owner`."""
    if count <= 0:
        return []
    moment = now()
    claimable = or_(import_studies.c.state == "queued",
                    and_(import_studies.c.state == "running",
                         import_studies.c.lease_until < moment))
    query = (select(import_studies.c.import_id, import_studies.c.study_uid,
                    import_studies.c.attempts, imports.c.store)
             .join(imports, imports.c.id == import_studies.c.import_id)
             .where(claimable, imports.c.state.in_(ACTIVE))
             .order_by(imports.c.created_at, import_studies.c.position).limit(count))
    if import_id is not None:
        query = query.where(import_studies.c.import_id == import_id)
    if not _any(engine, query):
        return []
    with _writing(engine) as connection, connection.begin():
        rows = connection.execute(
            query.with_for_update(skip_locked=True, of=import_studies)).all()
        for row in rows:
            connection.execute(
                update(import_studies)
                .where(import_studies.c.import_id == row.import_id,
                       import_studies.c.study_uid == row.study_uid)
                .values(state="running", owner=owner, attempts=row.attempts + 1,
                        lease_until=moment + dt.timedelta(seconds=lease_seconds)))
        if rows:
            connection.execute(
                update(imports)
                .where(imports.c.id.in_({row.import_id for row in rows}),
                       imports.c.state == "queued")
                .values(state="running", started_at=moment))
    return [StudyClaim(row.import_id, row.store, row.study_uid, row.attempts + 1)
            for row in rows]


def renew_leases(engine: Engine, owner: str, lease_seconds: float) -> None:
    """Extend the leases of every study `owner` holds (a long study must not be taken
    over while its worker is alive)."""
    with _writing(engine) as connection, connection.begin():
        connection.execute(
            update(import_studies)
            .where(import_studies.c.owner == owner, import_studies.c.state == "running")
            .values(lease_until=now() + dt.timedelta(seconds=lease_seconds)))


def release_studies(engine: Engine, claims: list[StudyClaim], owner: str) -> None:
    """Give claims not started back to the queue (a worker stopping)."""
    if not claims:
        return
    with _writing(engine) as connection, connection.begin():
        for claim in claims:
            connection.execute(
                update(import_studies)
                .where(import_studies.c.import_id == claim.import_id,
                       import_studies.c.study_uid == claim.study_uid,
                       import_studies.c.owner == owner, import_studies.c.state == "running")
                .values(state="queued", owner=None, lease_until=None,
                        attempts=import_studies.c.attempts - 1))


def finish_study(engine: Engine, claim: StudyClaim, owner: str, state: str,
                 instances: int = 0, reason: str | None = None) -> bool:
    """Record the outcome of a claimed study; False when the claim was no longer ours."""
    with _writing(engine) as connection, connection.begin():
        changed = connection.execute(
            update(import_studies)
            .where(import_studies.c.import_id == claim.import_id,
                   import_studies.c.study_uid == claim.study_uid,
                   import_studies.c.owner == owner, import_studies.c.state == "running")
            .values(state=state, instances=instances, reason=reason, finished_at=now(),
                    lease_until=None)).rowcount
    return bool(changed)


def finish_imports(engine: Engine) -> list[str]:
    """Mark done (or failed, when every study failed) the running imports with nothing
    left to search or work; answers their ids."""
    pending = exists().where(import_studies.c.import_id == imports.c.id,
                             import_studies.c.state.in_(ACTIVE))
    succeeded = exists().where(import_studies.c.import_id == imports.c.id,
                               import_studies.c.state.in_(("done", "unchanged")))
    failed = exists().where(import_studies.c.import_id == imports.c.id,
                            import_studies.c.state == "failed")
    ready = and_(imports.c.state.in_(ACTIVE), imports.c.search_done.is_(True), ~pending)
    if not _any(engine, select(imports.c.id).where(ready)):
        return []
    with _writing(engine) as connection, connection.begin():
        ids = list(connection.execute(select(imports.c.id).where(ready)).scalars())
        if ids:
            connection.execute(
                update(imports).where(imports.c.id.in_(ids), ready, failed, ~succeeded)
                .values(state="failed", finished_at=now(),
                        error="every study of the import failed"))
            connection.execute(
                update(imports).where(imports.c.id.in_(ids), ready)
                .values(state="done", finished_at=now()))
    return ids


def queued_studies(engine: Engine) -> int:
    """Studies waiting for a worker (the import queue's length)."""
    with engine.connect() as connection:
        return int(connection.execute(
            select(func.count()).select_from(import_studies)
            .where(import_studies.c.state.in_(ACTIVE))).scalar_one())


# -- Pub/Sub messages --------------------------------------------------------------------

def message_seen(engine: Engine, message_id: str) -> bool:
    with engine.connect() as connection:
        return connection.execute(
            select(pubsub_messages.c.message_id)
            .where(pubsub_messages.c.message_id == message_id)).first() is not None


def remember_message(engine: Engine, message_id: str, retention: dt.timedelta) -> bool:
    """Record a stored message (False if another delivery recorded it first) and forget
    those older than `retention`."""
    moment = now()
    with _writing(engine) as connection, connection.begin():
        dialect = connection.dialect.name
        statement = (postgresql.insert(pubsub_messages) if dialect == "postgresql"
                     else sqlite.insert(pubsub_messages)).on_conflict_do_nothing()
        added = connection.execute(statement, {"message_id": message_id,
                                               "received_at": moment}).rowcount
        connection.execute(delete(pubsub_messages)
                           .where(pubsub_messages.c.received_at < moment - retention))
    return bool(added)
