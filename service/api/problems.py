"""RFC 9457 (application/problem+json) rendering of the error tree in service/errors.py.

init_app makes every error, ours or Werkzeug's, answer a problem body.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Flask, Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from service.errors import PROBLEM_MEDIA_TYPE, ServiceError

log = logging.getLogger(__name__)


def problem_response(status: int, body: dict[str, Any],
                     headers: dict[str, str] | None = None) -> Response:
    response = Response(_problem_json(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _problem_json(body: Any) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:
        # A lone surrogate the request carried ("\ud800" escaped in a key the problem
        # names) is no UTF-8: show it escaped rather than fail the answer.
        return orjson.dumps(_without_surrogates(body))


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_surrogates(item) for item in value]
    return value


def init_app(app: Flask) -> None:
    """Render every error, ours or Werkzeug's, as problem+json; never a bare 500 page."""

    @app.errorhandler(ServiceError)
    def _service_error(error: ServiceError) -> Response:
        if error.status >= 500:
            log.warning("%s: %s", type(error).__name__, error.detail)
        return problem_response(error.status, error.to_problem(), error.headers)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        body = {
            "type": "about:blank",
            "title": error.name,
            "status": error.code or 500,
            "detail": error.description or error.name,
        }
        headers = {}
        if isinstance(error, MethodNotAllowed) and error.valid_methods:  # its code is 405
            headers["Allow"] = ", ".join(error.valid_methods)
        return problem_response(error.code or 500, body, headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # Log the type and traceback, but the problem body says nothing of internals.
        log.exception("unhandled %s", type(error).__name__)
        body = {
            "type": "https://dicom-resolver.dev/problems/internal",
            "title": "Internal error",
            "status": 500,
            "detail": "The service failed to answer this request; the error was logged.",
        }
        return problem_response(500, body)
