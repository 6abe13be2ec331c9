"""dicom-resolver: DICOM JSON dumps in, normalized metadata and Hounsfield pixels out."""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING

from service.settings import Settings

if TYPE_CHECKING:
    from flask import Flask

    from service.bulkdata.client import BulkDataClient

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *,
               bulkdata: BulkDataClient | None = None) -> Flask:
    """The application factory: the only place that wires settings, store and clients.

    `bulkdata` injects a ready client (tests, embedding); by default the app builds one,
    which resolves Google credentials on first use, not here, and closes it with the app.
    """
    from flask import Flask

    from service import observability
    from service.api import auth, problems, register_blueprints
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
    _init_imports(app, settings, bulkdata)
    return app


def _init_imports(app: Flask, settings: Settings, bulkdata: BulkDataClient) -> None:
    """Imports from Google DICOM stores: the worker (started only when the settings say
    so, stopped with the app or at exit), the import queue gauge, and the Pub/Sub push
    handler (only with an audience to verify tokens against)."""
    from service.api import auth
    from service.bulkdata.store_reader import StoreReaders
    from service.observability import ImportQueue
    from service.store import imports as import_rows
    from service.usecases.import_worker import ImportWorker, WorkerOptions
    from service.usecases.notifications import PushHandler

    engine = app.extensions["engine"]
    metrics = app.extensions["metrics"]
    readers = StoreReaders(bulkdata)
    worker = ImportWorker(engine, readers, WorkerOptions.from_settings(settings),
                          metrics=metrics)
    app.extensions["import_worker"] = worker
    metrics.collectors.append(ImportQueue(lambda: import_rows.queued_studies(engine)))
    if settings.import_worker:
        worker.start()
        weakref.finalize(app, worker.stop)
    app.extensions["pubsub"] = None
    if settings.pubsub_audience:
        stores = {store.strip("/") for store in (settings.dicom_store, *settings.mirror_stores)
                  if store}
        verifier = auth.GoogleIdTokens(settings.pubsub_audience, settings.pubsub_allowed_emails,
                                       settings.pubsub_certs_url)
        app.extensions["pubsub"] = PushHandler(engine, verifier, stores, readers,
                                               max_depth=settings.max_sequence_depth,
                                               metrics=metrics)
