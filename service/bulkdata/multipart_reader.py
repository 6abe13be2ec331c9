"""multipart/related parsing (RFC 2046 §5.1, RFC 2387) for DICOMweb retrieve responses.

Parts are memoryview slices of the response body, so a large pixel payload is
not copied while it is split; only a part sent with `Content-Encoding: gzip`
is materialized (decompressed).
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM = re.compile(rf';\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_MAX_PARTS = 100_000


class MultipartError(ValueError):
    """The body is not a well-formed multipart message (truncated, no boundary, …)."""


@dataclass(frozen=True)
class Part:
    """One body part: lower-cased header names, and the payload as a view on the body."""

    headers: dict[str, str]
    body: memoryview

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "text/plain")


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """Split `type/subtype; a=1; b="x;y"` into the lower-cased type and its parameters."""
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(";" + rest):
        raw = match.group(2).strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[match.group(1).lower()] = raw
    return head.strip().lower(), params


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """Split a multipart body into its parts; raise MultipartError when it is malformed."""
    media_type, params = parse_media_type(content_type)
    if not media_type.startswith("multipart/"):
        raise MultipartError(f"not a multipart media type: {media_type!r}")
    boundary = params.get("boundary", "")
    if not boundary or len(boundary) > 200:
        raise MultipartError("the multipart Content-Type has no usable boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    view = memoryview(body)
    # The first delimiter may open the body; later ones are preceded by CRLF.
    if body.startswith(delimiter):
        position = 0
    else:
        position = body.find(b"\r\n" + delimiter)
        if position < 0:
            raise MultipartError("the multipart body contains no boundary delimiter")
        position += 2
    parts: list[Part] = []
    while True:
        position += len(delimiter)
        if body.startswith(b"--", position):
            return parts  # close delimiter: the epilogue is ignored
        line_end = body.find(b"\r\n", position)
        if line_end < 0 or body[position:line_end].strip(b" \t"):
            raise MultipartError("a boundary delimiter is not followed by CRLF (truncated?)")
        header_end = body.find(b"\r\n\r\n", line_end)
        if body.startswith(b"\r\n", line_end + 2):
            header_end, headers = line_end, {}
        elif header_end < 0:
            raise MultipartError("a part's headers are not terminated (truncated body)")
        else:
            headers = _parse_headers(body[line_end + 2:header_end])
        start = header_end + 4
        end = body.find(b"\r\n" + delimiter, start)
        if end < 0:
            raise MultipartError("the multipart body ends without a close delimiter (truncated)")
        parts.append(Part(headers=headers, body=_decode(view[start:end], headers)))
        if len(parts) > _MAX_PARTS:
            raise MultipartError("too many parts")
        position = end + 2


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        if line[:1] in (" ", "\t") and headers:  # obsolete line folding
            last = next(reversed(headers))
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise MultipartError(f"malformed part header line: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


def _decode(payload: memoryview, headers: dict[str, str]) -> memoryview:
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("identity", "", "binary", "8bit"):
        return payload
    if encoding in ("gzip", "x-gzip"):
        try:
            return memoryview(gzip.decompress(payload))
        except (OSError, EOFError, zlib.error) as exc:
            raise MultipartError("a gzip-encoded part cannot be decompressed") from exc
    raise MultipartError(f"unsupported part Content-Encoding {encoding!r}")
