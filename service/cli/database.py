"""Opening the store from the command line (`migrate`, `ingest`, `pull`, `serve`), with
errors that name the database without its password.

SQLAlchemy and Alembic are imported inside the functions so that the light commands
(`show`, `tree`, `tag`) do not pay for them at start-up.
"""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    """The store cannot be opened; the CLI prints it on stderr, exit status 1."""


def masked_url(url: str) -> str:
    """The database URL with its password replaced by ***, fit to print."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def open_store(url: str, *, migrate: bool = True) -> Any:
    """An engine (schema migrated to head unless `migrate` is false), or StoreError naming
    the URL without password."""
    from alembic.util import CommandError
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from service.store.engine import make_engine

    try:
        return make_engine(url, migrate=migrate)
    except (ArgumentError, SQLAlchemyError, OSError, ValueError, CommandError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        raise StoreError(f"cannot open the store at {masked_url(url)}: "
                         f"{type(exc).__name__}: {reason}") from exc

