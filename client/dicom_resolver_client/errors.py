"""What can go wrong when calling dicom-resolver: a small tree, one class per answer.

Every error answer of the service is an RFC 9457 `application/problem+json` body; it is
raised as a `ProblemError` subclass chosen by its status, carrying `status`, `title`,
`detail`, `type` and the offending `field` (the problem's `parameter` or `header`).
"""

from __future__ import annotations

from typing import Any


class DicomResolverError(Exception):
    """Base class of every error this client raises."""


class TransportError(DicomResolverError):
    """The service could not be reached or the connection broke (retried for GETs first)."""


class TruncatedBody(DicomResolverError):
    """A streamed body ended before its Content-Length: the service aborted it mid-way
    (a slice failed upstream after the answer started). Never a partial array."""


class ProblemError(DicomResolverError):
    """An error answer of the service (problem+json, or a plain HTTP error)."""

    def __init__(self, status: int, title: str, detail: str, *, type: str = "about:blank",  # noqa: A002
                 field: str | None = None, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.field = field
        # The whole problem document: `errors` (findings of a dump), `reason`, …
        self.body: dict[str, Any] = body or {}

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Findings of an invalid dump (instance index, JSON path, detail)."""
        found = self.body.get("errors")
        return list(found) if isinstance(found, list) else []


class BadRequest(ProblemError):
    """400: a parameter, header or dump is invalid; `field` or `errors` say which."""


class Unauthorized(ProblemError):
    """401: missing or invalid credentials."""


class Forbidden(ProblemError):
    """403: authenticated, but not allowed."""


class NotFound(ProblemError):
    """404: no such study, series, instance or frame."""


class NotAcceptable(ProblemError):
    """406: the representation asked for cannot be served."""


class Conflict(ProblemError):
    """409: an instance or series of the dump is stored under another study."""


class PayloadTooLarge(ProblemError):
    """413: the dump is over the service's limit."""


class Unprocessable(ProblemError):
    """422: well-formed but impossible (e.g. int16 asked of non-integral values, not a volume)."""


class TooManyRequests(ProblemError):
    """429: rate limited; raised only once the retries are used up."""


class UpstreamError(ProblemError):
    """502: the Google Healthcare API (or the emulator) failed to give the pixel data."""


class ServiceUnavailable(ProblemError):
    """503: temporarily unavailable; raised only once the retries are used up."""


_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 406: NotAcceptable,
    409: Conflict, 413: PayloadTooLarge, 422: Unprocessable, 429: TooManyRequests,
    502: UpstreamError, 503: ServiceUnavailable,
}


def problem_from(status: int, reason: str, document: Any) -> ProblemError:
    """The exception for an error answer; `document` is its parsed JSON body (or None)."""
    body = document if isinstance(document, dict) else {}
    title = str(body.get("title") or reason or "HTTP error")
    detail = str(body.get("detail") or title)
    field = body.get("parameter") or body.get("header")
    cls = _BY_STATUS.get(status, ProblemError)
    return cls(status, title, detail, type=str(body.get("type") or "about:blank"),
               field=str(field) if field else None, body=body)
