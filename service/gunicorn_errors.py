"""gunicorn's answers to requests it refuses before the app sees them, as problem+json.

A request line over limit_request_line (414), headers over limit_request_fields or
limit_request_field_size (431), a malformed request (400): gunicorn answers these itself,
with an HTML page, and has no setting or hook for the body. Every worker answers them
through gunicorn.util.write_error, so gunicorn.conf.py replaces that one function with
write_problem (install()). The detail is written here from the status, never from
gunicorn's message, which quotes the refused request line or header (query strings
carry patient names and IDs).
"""

from __future__ import annotations

import socket

import orjson

TYPE_ROOT = "https://dicom-resolver.dev/problems/"
_DETAILS = {
    400: ("bad-request", "The request is not valid HTTP/1.1 (request line, headers or "
                         "chunked framing)."),
    403: ("forbidden", "The request is forbidden."),
    414: ("uri-too-long", "The request line is longer than this server accepts "
                          "(limit_request_line). Narrow the query, or send fewer "
                          "includefield values."),
    417: ("expectation-failed", "The Expect header asks for what this server does not do."),
    431: ("header-fields-too-large", "The request headers are more or larger than this "
                                     "server accepts (limit_request_fields, "
                                     "limit_request_field_size)."),
    501: ("not-implemented", "The Transfer-Encoding is not supported."),
}
_FALLBACK = ("internal", "The server failed to handle this request; the error was logged.")


def problem_bytes(status: int, reason: str) -> bytes:
    """The complete HTTP/1.1 answer (status line, headers, body) for a refused request."""
    suffix, detail = _DETAILS.get(status, _FALLBACK)
    body = orjson.dumps({"type": TYPE_ROOT + suffix, "title": reason, "status": status,
                         "detail": detail})
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


# gunicorn.util.write_error's signature; `mesg` quotes the request, so it is not sent.
def write_problem(sock: socket.socket, status_int: int, reason: str,
                  mesg: str) -> None:  # noqa: ARG001
    from gunicorn import util

    util.write_nonblock(sock, problem_bytes(status_int, reason))


def install() -> None:
    """Make every gunicorn worker forked after this call answer refusals with problems."""
    from gunicorn import util

    util.write_error = write_problem
