"""Alembic migrations: the schema they build is the metadata's, on both back ends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service import create_app, migrations
from service.cli import main
from service.settings import Settings
from service.store.engine import make_engine
from service.store.schema import metadata


def test_migrations_build_exactly_the_schema_of_schema_py(database_url: str) -> None:
    engine = make_engine(database_url)  # upgrade to head
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        assert migrations.current(engine) == migrations.head()
    finally:
        engine.dispose()
    # Non-empty: service/store/schema.py changed without a migration. Write one:
    #   python -m service.migrations revision "what changed" DATABASE_URL
    assert differences == [], differences


def test_a_store_made_by_create_all_is_stamped_and_kept(database_url: str) -> None:
    engine = make_engine(database_url, migrate=False)
    try:
        with engine.begin() as connection:
            metadata.create_all(connection)
            connection.execute(sa.text(
                "INSERT INTO dumps (received_at, body_sha256, body_bytes, received, created, "
                "updated, unchanged) VALUES (CURRENT_TIMESTAMP, 'x', 1, 0, 0, 0, 0)"))
        assert migrations.current(engine) is None
        assert migrations.upgrade(engine) == migrations.BASELINE
        assert migrations.current(engine) == migrations.head()
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM dumps")).scalar() == 1
    finally:
        engine.dispose()


def test_readyz_refuses_until_the_store_is_migrated(postgres_url: str) -> None:
    app = create_app(Settings.load(environ={}, database_url=postgres_url))  # no migrate_on_start
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.mimetype == "application/problem+json"
        assert "dicom-resolver migrate" in answer.get_json()["detail"]
        assert main(["migrate", "--database-url", postgres_url]) == 0
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.get_json() == {"status": "ready", "schema_revision": migrations.head()}
    finally:
        app.extensions["engine"].dispose()


def test_migrate_on_start_upgrades_a_postgresql_store(postgres_url: str) -> None:
    app = create_app(Settings.load(
        environ={"DICOM_RESOLVER_MIGRATE_ON_START": "true"}, database_url=postgres_url))
    try:
        assert app.test_client().get("/readyz").status_code == 200
    finally:
        app.extensions["engine"].dispose()


def test_replicas_migrating_at_once_take_turns(postgres_url: str) -> None:
    engines = [make_engine(postgres_url, migrate=False) for _ in range(4)]
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            before = list(pool.map(migrations.upgrade, engines))
        # Exactly one found the store empty; the others waited and found it at head.
        assert before.count(None) == 1 and before.count(migrations.head()) == 3, before
        assert all(migrations.current(engine) == migrations.head() for engine in engines)
    finally:
        for engine in engines:
            engine.dispose()


def test_every_migration_downgrades_to_nothing(database_url: str) -> None:
    from alembic import command

    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            command.downgrade(migrations.config(connection), "base")
        with engine.connect() as connection:
            left = set(sa.inspect(connection).get_table_names()) - {migrations.VERSION_TABLE}
        assert left == set()
        assert migrations.upgrade(engine) is None  # and back up from nothing
    finally:
        engine.dispose()
