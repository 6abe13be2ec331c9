"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.api import engine
from service.problems import ServiceUnavailable

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@blueprint.get("/readyz")
def readyz() -> dict:
    try:
        with engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise ServiceUnavailable("the database is not reachable") from exc
    return {"status": "ready"}
