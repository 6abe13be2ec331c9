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
    from service import auth, observability, problems
    from service.api import register_blueprints
    from service.bulkdata.client import BulkDataClient
    from service.store.engine import make_engine, migrates_on_start

    settings = settings or Settings.load()
    authenticator = auth.make_authenticator(settings)  # misconfigured: fail before opening
    logging.getLogger("service").setLevel(settings.log_level.upper())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_dump_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["settings"] = settings
    app.extensions["engine"] = make_engine(settings.database_url,
                                           migrate=migrates_on_start(settings))
    if bulkdata is None:
        bulkdata = BulkDataClient(settings)
        # One pooled client per process, closed when the app goes away (or at exit).
        weakref.finalize(app, bulkdata.close)
    if settings.redis_url:  # one pixel cache for every worker and replica
        from service.bulkdata.redis_cache import RedisPayloadCache

        bulkdata.cache = RedisPayloadCache.from_url(settings.redis_url,
                                                    prefix=settings.redis_key_prefix)
    app.extensions["bulkdata"] = bulkdata
    problems.init_app(app)
    observability.init_app(app)  # first: request ids for everything after it
    auth.init_app(app, authenticator)
    register_blueprints(app)
    return app
