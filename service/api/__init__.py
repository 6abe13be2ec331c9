"""Thin Flask blueprints, one per resource family."""

from __future__ import annotations

from flask import Flask, Response, current_app
from sqlalchemy import Engine

from service.bulkdata.client import BulkDataClient
from service.settings import Settings
from service.usecases.pixels import DecodeAttributesCache

JSON = "application/json"

# The app.extensions keys of the shared resources create_app builds once and views read.
SETTINGS = "settings"
ENGINE = "engine"
BULKDATA = "bulkdata"  # the BulkDataClient
METADATA_CACHE = "dicomweb_metadata_cache"  # the BodyCache; absent when disabled
PIXEL_ATTRIBUTES_CACHE = "pixel_attributes_cache"  # usecases.pixels.DecodeAttributesCache
OPENAPI_DOCUMENT = "openapi_document"  # spec.Document
IMPORT_WORKER = "import_worker"
PUSH_HANDLER = "pubsub"  # usecases.notifications.PushHandler; None when not configured


def engine() -> Engine:
    return current_app.extensions[ENGINE]


def settings() -> Settings:
    return current_app.extensions[SETTINGS]


def bulkdata_client() -> BulkDataClient:
    return current_app.extensions[BULKDATA]


def pixel_attributes_cache() -> DecodeAttributesCache:
    return current_app.extensions[PIXEL_ATTRIBUTES_CACHE]


def json_response(body: bytes, status: int = 200, mimetype: str = JSON) -> Response:
    return Response(body, status=status, mimetype=mimetype)


def register_blueprints(app: Flask) -> None:
    from service.api import dumps, health, pixels, spec, studies, tags

    for module in (health, spec, dumps, studies, tags, pixels):
        app.register_blueprint(module.blueprint)
    from service.api import volumes  # series volumes (npy/NRRD/NIfTI) and their geometry
    app.register_blueprint(volumes.blueprint)
    from service.api import dicomweb  # QIDO-RS / WADO-RS under /dicomweb
    app.register_blueprint(dicomweb.blueprint)
    from service.api import imports, notifications  # imports from a Google DICOM store

    app.register_blueprint(imports.blueprint)
    app.register_blueprint(notifications.blueprint)
    from service import explorer  # the built-in web page at / (static files, no API of its own)

    app.register_blueprint(explorer.blueprint)
    from service.api import unrouted  # after every route: it reads the whole url_map

    unrouted.init_app(app)
