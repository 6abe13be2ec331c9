"""Database engine set-up: SQLite (WAL, foreign keys, immediate write locks) or PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

from service.settings import Settings

log = logging.getLogger(__name__)

WRITE = {"write": True}  # execution option: this connection will write


def make_engine(url: str, *, migrate: bool = True) -> Engine:
    """An engine for `url`; with `migrate`, the schema brought to the newest revision.

    Without it, the schema is left as it is: /readyz says when it is behind the code.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url)
    else:
        engine = _server_engine(url)
    if migrate:
        from service import migrations

        migrations.upgrade(engine)
    log.info("store ready (%s)", parsed.get_backend_name())
    return engine


def migrates_on_start(settings: Settings) -> bool:
    """SQLite, the embedded store, always; a shared server only when asked (an operator
    usually runs `dicom-resolver migrate` as a release step instead)."""
    return make_url(settings.database_url).get_backend_name() == "sqlite" \
        or settings.migrate_on_start


# Every engine hides bound parameters: SQLAlchemy's error messages would otherwise list
# the row being written (patient names and IDs) in every logged database error.


def _server_engine(url: str) -> Engine:
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                           hide_parameters=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Writers read, then write what they read (counts, existing rows). They run READ
        # COMMITTED and first take a lock per study they write (repository.lock_studies),
        # in one global order: writers of one study queue instead of failing, and each
        # statement after the lock sees what the previous holder committed. (SERIALIZABLE
        # made the losers of such races fail with SQLSTATE 40001 and retry, and under
        # load some ran out of retries: 503 to the client.) Set explicitly so that a
        # server whose default is stricter cannot turn waits back into failures.
        if connection.get_execution_options().get("write", False):
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")

    return engine


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False},
                           hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from pysqlite so that writes can BEGIN IMMEDIATE:
        # a deferred transaction that later writes is what fails with "database is locked"
        # when several processes write at once.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writing = connection.get_execution_options().get("write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine
