"""multipart/related bodies for WADO-RS (RFC 2387, PS3.18 §8.7.3.2): a random boundary
per response, CRLF line ends, each part with its Content-Type (and, for bulk data,
Content-Location)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Part:
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Multipart:
    body: bytes
    content_type: str  # multipart/related; type="…"; boundary=…


def new_boundary() -> str:
    return f"dicomweb-{secrets.token_hex(16)}"


def write_multipart(parts: list[Part], part_type: str, *, boundary: str | None = None,
                    transfer_syntax: str | None = None) -> Multipart:
    """One multipart/related body; `part_type` is the `type` parameter of the whole."""
    boundary = boundary or new_boundary()
    marker = b"--" + boundary.encode()
    chunks: list[bytes] = []
    for part in parts:
        if marker in part.body:
            # A random 128-bit boundary inside the payload: draw again rather than corrupt.
            return write_multipart(parts, part_type, transfer_syntax=transfer_syntax)
        head = [f"Content-Type: {part.content_type}"]
        head.extend(f"{name}: {value}" for name, value in part.headers.items())
        chunks.append(marker + b"\r\n" + "\r\n".join(head).encode() + b"\r\n\r\n" + part.body
                      + b"\r\n")
    chunks.append(marker + b"--\r\n")
    content_type = f'multipart/related; type="{part_type}"; boundary={boundary}'
    if transfer_syntax:
        content_type += f"; transfer-syntax={transfer_syntax}"
    return Multipart(b"".join(chunks), content_type)
