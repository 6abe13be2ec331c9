"""Wire formats the emulator speaks: Accept, multipart/related bodies, Google error bodies."""

from __future__ import annotations

import json
import re
import secrets

_RANGE = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+')
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')

# Google's canonical error statuses for the HTTP codes the emulator answers with.
GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "NOT_FOUND", 406: "NOT_ACCEPTABLE", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}


def parse_accept(header: str | None) -> list[tuple[str, dict[str, str]]]:
    """Media ranges of an Accept header, in order, with lower-cased types and parameter names."""
    ranges: list[tuple[str, dict[str, str]]] = []
    for match in _RANGE.finditer(header or "*/*"):
        text = match.group(0).strip()
        if not text:
            continue
        media, _, rest = text.partition(";")
        params: dict[str, str] = {}
        for param in _PARAM.finditer(";" + rest):
            value = param.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            params[param.group(1).lower()] = value
        ranges.append((media.strip().lower(), params))
    return ranges


def new_boundary() -> str:
    return secrets.token_hex(16)


def encode_multipart(parts: list[tuple[bytes, str, str]], boundary: str) -> bytes:
    """multipart/related body from (payload, content type, content location) triples."""
    chunks: list[bytes] = []
    for payload, content_type, location in parts:
        chunks.append(f"--{boundary}\r\nContent-Type: {content_type}\r\n"
                      f"Content-Location: {location}\r\n\r\n".encode("latin-1"))
        chunks.append(payload)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode("latin-1"))
    return b"".join(chunks)


def google_error(code: int, message: str) -> bytes:
    """`{"error": {"code", "message", "status"}}`, the shape Google's APIs answer errors with."""
    status = GOOGLE_STATUS.get(code, "UNKNOWN")
    return json.dumps({"error": {"code": code, "message": message, "status": status}}).encode()
