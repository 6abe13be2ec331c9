"""dicom-resolver: DICOM JSON dumps in, normalized metadata and Hounsfield pixels out."""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING

from service.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from flask import Flask

    from service.bulkdata.cache import PixelCache
    from service.bulkdata.client import BulkDataClient

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *,
               bulkdata: Callable[[PixelCache], BulkDataClient] | None = None) -> Flask:
    """The application factory: the only place that wires settings, store and clients.

    Shared resources are built here, once: the engine, the metrics, the pixel cache (in
    memory, or Redis shared by every worker) metered by observability.MeteredCache, the
    bulk-data client holding it, the DICOMweb metadata cache, the pixel attribute cache
    and the OpenAPI document.
    `bulkdata` makes the client from that cache instead (tests, embedding: credentials,
    sessions, backoffs of their own); the app closes its client when it goes away.
    """
    from flask import Flask

    from service import observability
    from service.api import (
        BULKDATA,
        ENGINE,
        METADATA_CACHE,
        OPENAPI_DOCUMENT,
        PIXEL_ATTRIBUTES_CACHE,
        SETTINGS,
        auth,
        problems,
        register_blueprints,
        spec,
    )
    from service.bulkdata.client import BulkDataClient
    from service.dicomweb.body_cache import BodyCache
    from service.front.health import HealthzFront
    from service.store.engine import make_engine, migrates_on_start
    from service.usecases.pixels import DECODE_CACHE_BYTES, DecodeAttributesCache

    settings = settings or Settings.load()
    authenticator = auth.make_authenticator(settings)  # misconfigured: fail before opening
    logging.getLogger("service").setLevel(settings.log_level.upper())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_dump_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[SETTINGS] = settings
    app.extensions[ENGINE] = make_engine(settings.database_url,
                                         migrate=migrates_on_start(settings))
    metrics = observability.Metrics()
    cache = observability.MeteredCache(_pixel_cache(settings), metrics)
    client = bulkdata(cache) if bulkdata is not None else BulkDataClient(settings, cache=cache)
    # One pooled client per process, closed when the app goes away (or at exit).
    weakref.finalize(app, client.close)
    app.extensions[BULKDATA] = client
    if settings.dicomweb_metadata_cache_bytes > 0:  # absent: answers are not kept
        app.extensions[METADATA_CACHE] = BodyCache(settings.dicomweb_metadata_cache_bytes)
    # What decoding an instance needs, by content hash (never stale; no patient data kept).
    app.extensions[PIXEL_ATTRIBUTES_CACHE] = DecodeAttributesCache(DECODE_CACHE_BYTES)
    app.extensions[OPENAPI_DOCUMENT] = spec.Document()
    problems.init_app(app)
    observability.init_app(app, metrics)  # first hooks: request ids for everything after
    auth.init_app(app, authenticator)
    register_blueprints(app)
    _init_imports(app, settings, client)
    # Liveness probes answered before Flask (same answer, same metrics): Flask's
    # documented place for WSGI middleware, so the test client goes through it too.
    app.wsgi_app = HealthzFront(app.wsgi_app, metrics)  # type: ignore[method-assign]
    return app


def _pixel_cache(settings: Settings) -> PixelCache:
    """Redis when configured (one pixel cache for every worker and replica), else memory."""
    if settings.redis_url:
        from service.bulkdata.redis_cache import RedisPayloadCache

        return RedisPayloadCache.from_url(settings.redis_url, prefix=settings.redis_key_prefix)
    from service.bulkdata.cache import PayloadCache

    return PayloadCache(settings.pixel_cache_bytes)


def _init_imports(app: Flask, settings: Settings, bulkdata: BulkDataClient) -> None:
    """Imports from Google DICOM stores: the worker (started only when the settings say
    so, stopped with the app or at exit), the import queue gauge, and the Pub/Sub push
    handler (only with an audience to verify tokens against)."""
    from service.api import ENGINE, IMPORT_WORKER, PUSH_HANDLER, auth
    from service.bulkdata.store_reader import StoreReaders
    from service.observability import METRICS, ImportQueue
    from service.store import imports as import_rows
    from service.usecases.import_worker import ImportWorker
    from service.usecases.notifications import PushHandler
    from service.usecases.types import WorkerOptions

    engine = app.extensions[ENGINE]
    metrics = app.extensions[METRICS]
    readers = StoreReaders(bulkdata)
    worker = ImportWorker(engine, readers, WorkerOptions.from_settings(settings),
                          metrics=metrics)
    app.extensions[IMPORT_WORKER] = worker
    metrics.collectors.append(ImportQueue(lambda: import_rows.queued_studies(engine)))
    if settings.import_worker:
        worker.start()
        weakref.finalize(app, worker.stop)
    app.extensions[PUSH_HANDLER] = None
    if settings.pubsub_audience:
        stores = {store.strip("/") for store in (settings.dicom_store, *settings.mirror_stores)
                  if store}
        verifier = auth.GoogleIdTokens(settings.pubsub_audience, settings.pubsub_allowed_emails,
                                       settings.pubsub_certs_url)
        app.extensions[PUSH_HANDLER] = PushHandler(engine, verifier, stores, readers,
                                                 max_depth=settings.max_sequence_depth,
                                                 metrics=metrics)
