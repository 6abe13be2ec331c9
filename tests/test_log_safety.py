"""service.log_safety: what of an exception or a refused request may reach a log."""

from __future__ import annotations

import logging
import sys

import pytest
from gunicorn.http.errors import (
    InvalidHeader,
    InvalidHTTPVersion,
    InvalidRequestLine,
    LimitRequestHeaders,
    LimitRequestLine,
)
from sqlalchemy.exc import IntegrityError

from service.errors import BadRequest
from service.log_safety import (
    RedactingFilter,
    exception_summary,
    redact_gunicorn_message,
    safe_traceback,
)

NAME = "SUMBERG^ANDREW^^MR."


class _DriverError(Exception):
    sqlstate = "23505"


def _raised(error: BaseException) -> tuple:
    try:
        raise error
    except BaseException:  # noqa: BLE001 - the test wants whatever it raised
        return sys.exc_info()


def test_a_database_error_keeps_its_type_and_sqlstate_not_its_values() -> None:
    driver = _DriverError(f'duplicate key value violates unique constraint\n'
                          f'DETAIL:  Key (patient_name)=({NAME}) already exists.')
    wrapped = IntegrityError("INSERT INTO studies …", {"patient_name": NAME}, driver)
    assert exception_summary(wrapped) == \
        "IntegrityError (SQLSTATE 23505) from _DriverError"
    try:
        try:
            raise driver
        except _DriverError as cause:
            raise wrapped from cause
    except IntegrityError:
        text = safe_traceback(sys.exc_info())
    assert NAME not in text and "ANDREW" not in text
    assert "IntegrityError (SQLSTATE 23505)" in text and "_DriverError" in text
    assert "test_log_safety.py" in text  # the frames are kept


def test_the_service_own_errors_keep_their_message() -> None:
    text = safe_traceback(_raised(BadRequest("limit must be an integer")))
    assert "BadRequest: limit must be an integer" in text and "withheld" not in text
    assert "withheld" in safe_traceback(_raised(ValueError(f"bad value {NAME!r}")))


@pytest.mark.parametrize("error", [
    InvalidRequestLine(f"GET /v1/studies?PatientName={NAME} 1942 HTTP/1.1"),
    InvalidHTTPVersion(f"{NAME} HTTP/1.1"),
    InvalidHeader(f"X-Name: {NAME}"),
    LimitRequestHeaders(f"limit request headers fields size {NAME}"),
])
def test_gunicorn_refusals_lose_what_they_quote(error: Exception) -> None:
    line = f"Invalid request from ip=127.0.0.1: {error}"
    redacted = redact_gunicorn_message(line)
    assert redacted.startswith("Invalid request from ip=127.0.0.1: ")
    assert "SUMBERG" not in redacted and len(redacted) > len("Invalid request from ip=…: ")


def test_gunicorn_limits_are_kept_and_uris_lose_their_query() -> None:
    line = f"Invalid request from ip=::1: {LimitRequestLine(9000, 8190)}"
    assert redact_gunicorn_message(line) == line  # nothing quoted: all of it stays
    assert redact_gunicorn_message(f"Error handling request GET /v1/studies?PatientName="
                                   f"{NAME}") == "Error handling request GET /v1/studies?…"


def test_the_filter_rewrites_gunicorn_records_only() -> None:
    record = logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1,
                               "Invalid request from ip=%s: %s", ("10.0.0.1", InvalidRequestLine(
                                   f"GET /?PatientName={NAME} x HTTP/1.1")), None)
    assert RedactingFilter().filter(record)
    assert "SUMBERG" not in record.getMessage()
    other = logging.LogRecord("service.ingest", logging.INFO, __file__, 1, "ingested %s",
                              ("1.2.3",), None)
    RedactingFilter().filter(other)
    assert other.getMessage() == "ingested 1.2.3"


def test_both_log_formats_withhold_exception_messages() -> None:
    from service.log_safety import SafeFormatter
    from service.observability import JsonFormatter, logging_config

    text_format = logging_config("INFO", "text")["formatters"]["main"]
    assert text_format["()"] == "service.log_safety.SafeFormatter"
    record = logging.LogRecord("service.x", logging.ERROR, __file__, 1, "failed", None,
                               _raised(ValueError(f"bad value {NAME!r}")))
    for formatter in (SafeFormatter("%(message)s"), JsonFormatter()):
        written = formatter.format(record)
        record.exc_text = None  # each formatter renders the traceback itself
        assert "SUMBERG" not in written and "ValueError" in written
