"""Schema migrations (Alembic), packaged with the service so that an install can migrate.

    upgrade(engine)      bring the store to the newest revision (once, under a lock)
    current(engine)      the store's revision, None when it has none
    head()               the newest revision this code knows
    pending(engine)      True when the store is behind the code

A store created by create_all before migrations existed (tables, no alembic_version)
is stamped with the baseline revision, whose schema it has, then upgraded.

Writing a migration: change service/store/schema.py, then
    python -m service.migrations revision "what changed" DATABASE_URL
against a store at head, and read what autogenerate wrote before committing it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

log = logging.getLogger(__name__)

BASELINE = "0001"
VERSION_TABLE = "alembic_version"
# Key of the PostgreSQL advisory lock that makes concurrent migrators (replicas starting
# together, workers) take turns: the second finds the schema at head and does nothing.
LOCK_KEY = 0x64_69_63_6F_6D  # "dicom"


def config(connection: Connection | None = None) -> Config:
    """An Alembic configuration without alembic.ini: the scripts beside this module."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def pending(engine: Engine) -> bool:
    return current(engine) != head()


def upgrade(engine: Engine) -> str | None:
    """Upgrade the store to head; answers the revision it was at before (None: new)."""
    # SQLite: a write transaction (BEGIN IMMEDIATE). PostgreSQL: READ COMMITTED, so that a
    # migrator who waited for the lock reads the revision the one before it committed.
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect().execution_options(write=sqlite) as connection:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
            before = MigrationContext.configure(connection).get_current_revision()
            cfg = config(connection)
            if before is None and inspect(connection).has_table("studies"):
                log.info("store made before migrations: stamping baseline %s", BASELINE)
                command.stamp(cfg, BASELINE)
                before = BASELINE
            if before != head():
                command.upgrade(cfg, "head")
                log.info("store migrated from %s to %s", before, head())
    return before
