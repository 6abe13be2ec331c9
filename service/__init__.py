"""dicom-resolver: DICOM JSON dumps in, normalized metadata and Hounsfield pixels out."""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING

from flask import Flask

from service.settings import Settings

if TYPE_CHECKING:
    from service.bulkdata.client import BulkDataClient

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *,
               bulkdata: BulkDataClient | None = None) -> Flask:
    """The application factory: the only place that wires settings, store and clients.

    `bulkdata` injects a ready client (tests, embedding); by default the app builds one,
    which resolves Google credentials on first use, not here, and closes it with the app.
    """
    from service import problems
    from service.api import register_blueprints
    from service.bulkdata.client import BulkDataClient
    from service.store.engine import make_engine

    settings = settings or Settings.load()
    logging.getLogger("service").setLevel(settings.log_level.upper())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_dump_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["settings"] = settings
    app.extensions["engine"] = make_engine(settings.database_url)
    if bulkdata is None:
        bulkdata = BulkDataClient(settings)
        # One pooled client per process, closed when the app goes away (or at exit).
        weakref.finalize(app, bulkdata.close)
    app.extensions["bulkdata"] = bulkdata
    problems.init_app(app)
    register_blueprints(app)
    return app
