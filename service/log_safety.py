"""What may be logged of an exception or of a request gunicorn refused: never values.

Exception messages carry what the failing code held: a database error quotes the row
("DETAIL: Failing row contains (…, SUMBERG^ANDREW^^MR., …)", "Key (patient_id)=(…)
already exists"), a JSON or pydicom error quotes the offending text, gunicorn quotes a
malformed request line with its query string, where names and IDs travel. So logs keep
the traceback's frames, each exception's type and, for database errors, the SQLSTATE,
and the message only of the service's own errors, whose texts name fields, never values.
(Engines are also created with hide_parameters, service/store/engine.py, so that
SQLAlchemy's message no longer lists the bound values.)
"""

from __future__ import annotations

import logging
import re
import traceback
from types import TracebackType

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

WITHHELD = "message withheld: it may carry patient data"
# gunicorn.error's line for a request it could not parse: "Invalid request from ip=…: …".
_INVALID_REQUEST = re.compile(r"^(Invalid request from ip=\S+: )(.*)$", re.S)
# What may stay of gunicorn's reason: one of its own fixed phrases (gunicorn.http.errors
# and the parser's LimitRequestHeaders texts), never what follows them (the request line,
# header or chunk it refused, quoted).
_GUNICORN_REASONS = re.compile(
    r"^(Request Line is too large \(\d+ > \d+\)|limit request [a-z ]+|max buffer headers"
    r"|Invalid HTTP (?:request line|method|Version|Header|header name)|Invalid chunk "
    r"(?:size|terminator|extension)|Unsupported transfer coding|Obsolete line folding"
    r"|Unable to comply with expectation|Invalid PROXY (?:line|header)|Proxy request"
    r"|Contradictory scheme headers|Expected HTTP/2 connection preface|No more data)")
_QUERY = re.compile(r"\?\S*")


def exception_summary(error: BaseException) -> str:
    """"IntegrityError (SQLSTATE 23505) from UniqueViolation": the type, the database's
    error code and the driver's error type, never the message (except the service's own)."""
    from service.errors import ServiceError

    if isinstance(error, ServiceError):
        return f"{type(error).__name__}: {error.detail}"
    text = type(error).__name__
    original = getattr(error, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None) \
        or getattr(error, "sqlstate", None)
    if code:
        text += f" (SQLSTATE {code})"
    if original is not None:
        text += f" from {type(original).__name__}"
    return text


def safe_traceback(exc_info: ExcInfo) -> str:
    """The traceback (frames and source lines) of an exception and of its causes, each
    exception reduced to exception_summary."""
    blocks: list[str] = []
    seen: set[int] = set()
    error: BaseException | None = exc_info[1]
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        frames = traceback.format_list(traceback.extract_tb(error.__traceback__))
        summary = exception_summary(error)
        if not _is_service_error(error):
            summary += f" [{WITHHELD}]"
        blocks.append("Traceback (most recent call last):\n" + "".join(frames) + summary)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return "\n\nwhich was raised while handling:\n\n".join(blocks)


def _is_service_error(error: BaseException) -> bool:
    from service.errors import ServiceError

    return isinstance(error, ServiceError)


def redact_gunicorn_message(message: str) -> str:
    """gunicorn.error lines: keep the kind of a refused request, drop what it quotes; strip
    query strings from the URIs it logs with "Error handling request"."""
    refused = _INVALID_REQUEST.match(message)
    if refused:
        known = _GUNICORN_REASONS.match(refused.group(2))
        reason = known.group(0).strip() if known else "malformed request"
        return refused.group(1) + reason + " (what it quoted is withheld)" * (
            known is None or known.group(0) != refused.group(2))
    return _QUERY.sub("?…", message) if message.startswith("Error handling request") \
        else message


class RedactingFilter(logging.Filter):
    """Installed on the log handler (service.observability.logging_config): rewrites
    gunicorn's records that quote requests. Exceptions are made safe by the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("gunicorn.error"):
            message = record.getMessage()
            redacted = redact_gunicorn_message(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


class SafeFormatter(logging.Formatter):
    """The plain-text log format, with exceptions reduced by safe_traceback."""

    # Narrower than logging's (None, None, None) alternative: logging formats only a real
    # exception (record.exc_info is set).
    def formatException(self, ei: ExcInfo) -> str:  # type: ignore[override]  # noqa: N802
        return safe_traceback(ei)
