"""dicom-resolver: DICOM JSON dumps in, normalized metadata and Hounsfield pixels out."""

from __future__ import annotations

import logging

from flask import Flask

from service.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """The application factory: the only place that wires settings, store and clients."""
    from service import problems
    from service.api import register_blueprints
    from service.store.engine import make_engine

    settings = settings or Settings.load()
    logging.getLogger("service").setLevel(settings.log_level.upper())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_dump_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["settings"] = settings
    app.extensions["engine"] = make_engine(settings.database_url)
    problems.init_app(app)
    register_blueprints(app)
    return app
