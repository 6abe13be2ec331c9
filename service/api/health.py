"""Liveness (the process answers) and readiness (the store is reachable and migrated)."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service import migrations
from service.api import engine
from service.errors import ServiceUnavailable

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> dict:
    # GET and HEAD are answered first by service.front.health (the same answer); this
    # route still gives /healthz its OPTIONS and 405 answers.
    return {"status": "ok"}


@blueprint.get("/readyz")
def readyz() -> dict:
    try:
        with engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        revision = migrations.current(engine())
    except SQLAlchemyError as exc:
        raise ServiceUnavailable("the database is not reachable") from exc
    expected = migrations.head()
    if revision != expected:
        raise ServiceUnavailable(
            f"the store's schema is at revision {revision or 'none'}, this code needs "
            f"{expected}: run `dicom-resolver migrate`", revision=revision, expected=expected)
    return {"status": "ready", "schema_revision": revision}
