"""POST/GET/DELETE /v1/imports: imports from a Google DICOM store, run by the worker."""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, current_app, request

from service.api import IMPORT_WORKER, engine, json_response, settings
from service.errors import BadRequest, UnsupportedMediaType
from service.usecases import imports

blueprint = Blueprint("imports", __name__)


@blueprint.post("/v1/imports")
def post_import() -> Response:
    if (request.mimetype or "").lower() != "application/json":
        raise UnsupportedMediaType("Content-Type must be application/json",
                                   header="Content-Type")
    try:
        body = orjson.loads(request.get_data(cache=False))
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not JSON", pointer="/") from None
    created = imports.create_import(engine(), imports.parse_request(
        body, settings().dicom_store))
    current_app.extensions[IMPORT_WORKER].wake()
    response = json_response(orjson.dumps(created), status=202)
    response.headers["Location"] = f"/v1/imports/{created['id']}"
    return response


@blueprint.get("/v1/imports/<import_id>")
def get_import(import_id: str) -> Response:
    return json_response(orjson.dumps(imports.get_import(engine(), import_id)))


@blueprint.delete("/v1/imports/<import_id>")
def cancel_import(import_id: str) -> Response:
    return json_response(orjson.dumps(imports.cancel_import(engine(), import_id)))
