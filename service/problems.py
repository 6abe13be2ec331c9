"""The service's error tree and its RFC 9457 (application/problem+json) rendering.

Every error a view can raise derives from ServiceError and carries its HTTP
status. Messages name fields, tags and UIDs, never patient data or tokens.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Flask, Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ServiceError(Exception):
    """Base of every error the API turns into a problem body."""

    status = 500
    title = "Internal error"
    type_suffix = "internal"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://dicom-resolver.dev/problems/{self.type_suffix}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class BadRequest(ServiceError):
    """The request is malformed (a parameter, a header, the body)."""

    status = 400
    title = "Bad request"
    type_suffix = "bad-request"


class InvalidDump(BadRequest):
    """A dump failed validation; `errors` lists every problem with its JSON path."""

    title = "Invalid DICOM JSON"
    type_suffix = "invalid-dump"


class Unauthorized(ServiceError):
    """No valid credentials: the caller must authenticate (WWW-Authenticate says how)."""

    status = 401
    title = "Unauthorized"
    type_suffix = "unauthorized"


class Forbidden(ServiceError):
    """Valid credentials of a caller who is not allowed."""

    status = 403
    title = "Forbidden"
    type_suffix = "forbidden"


class NotFound(ServiceError):
    """The addressed resource does not exist."""

    status = 404
    title = "Not found"
    type_suffix = "not-found"


class Conflict(ServiceError):
    """The request contradicts what is stored (e.g. an instance moving between studies)."""

    status = 409
    title = "Conflict"
    type_suffix = "conflict"


class PayloadTooLarge(ServiceError):
    status = 413
    title = "Payload too large"
    type_suffix = "payload-too-large"


class UnsupportedMediaType(ServiceError):
    status = 415
    title = "Unsupported media type"
    type_suffix = "unsupported-media-type"


class NotAcceptable(ServiceError):
    status = 406
    title = "Not acceptable"
    type_suffix = "not-acceptable"


class RequestTimeout(ServiceError):
    """The request (line, headers, body) did not arrive whole before its read deadline."""

    status = 408
    title = "Request timeout"
    type_suffix = "request-timeout"


class Unprocessable(ServiceError):
    """Well-formed but cannot be served as asked (e.g. a BulkDataURI outside the allowlist)."""

    status = 422
    title = "Unprocessable request"
    type_suffix = "unprocessable"


class UpstreamError(ServiceError):
    """The Healthcare API (or another upstream) failed or answered something unusable."""

    status = 502
    title = "Upstream error"
    type_suffix = "upstream"


class ServiceUnavailable(ServiceError):
    """A dependency is not configured or not reachable (credentials, database)."""

    status = 503
    title = "Service unavailable"
    type_suffix = "unavailable"


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
