"""The service's error tree: each error carries its HTTP status, title and RFC 9457 body.

Every error a view or use case can raise derives from ServiceError. No Flask here,
so the pure packages and use cases raise these without loading a web framework;
service/api/problems.py renders them. Messages name fields, tags and UIDs, never
patient data or tokens.
"""

from __future__ import annotations

from typing import Any

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
