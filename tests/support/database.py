"""Test stores: SQLite in a temporary folder, or, when DICOM_RESOLVER_TEST_DATABASE_URL names
a PostgreSQL server, a fresh schema of it per use (search_path set in the URL, so that child
processes given the URL see the same schema), dropped afterwards; and store snapshots."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, select

from service.store.schema import metadata

TEST_DATABASE_VARIABLE = "DICOM_RESOLVER_TEST_DATABASE_URL"
NO_POSTGRES = (f"PostgreSQL tests need {TEST_DATABASE_VARIABLE}, e.g. "
               "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_server_url() -> str | None:
    """The PostgreSQL server the environment names for tests, if any."""
    return os.environ.get(TEST_DATABASE_VARIABLE) or None


def fresh_schema(server_url: str) -> Iterator[str]:
    import sqlalchemy as sa

    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(server_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            # A connection the test leaked must not hang the suite: fail after 10 s.
            connection.exec_driver_sql("SET lock_timeout = '10s'")
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def temporary_store_url(sqlite_folder: Path) -> Iterator[str]:
    """A test's store: a fresh schema of the test server when one is named, else SQLite in
    `sqlite_folder`."""
    server_url = postgres_server_url()
    if server_url:
        yield from fresh_schema(server_url)
    else:
        yield f"sqlite:///{sqlite_folder / 'store.sqlite3'}"


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, to show that a failed request changed nothing."""
    with engine.connect() as connection:
        return {table.name: sorted(tuple(map(repr, row)) for row in
                                   connection.execute(select(table)))
                for table in metadata.sorted_tables}
