"""Request bodies read as a stream against a byte limit, gunzipped on the way.

Whatever the framing (Content-Length or chunked) and the encoding (identity or gzip), the
limit applies to the bytes the application will hold, and a body is refused as soon as
it passes the limit: a reader holds at most `limit` bytes of body, plus one read and one
inflated piece (READ_CHUNK each). A 10 MB gzip body inflating to 10 GiB thus costs the
limit, not the 10 GiB, and is refused without inflating the rest.
"""

from __future__ import annotations

import io
import zlib
from typing import IO

from gunicorn.http.errors import ParseException

from service.errors import InvalidDump, PayloadTooLarge, RequestTimeout, UnsupportedMediaType

# Bytes read from the socket, and inflated, at once: large enough that a fast client is
# not read in slivers, small beside any sensible limit.
READ_CHUNK = 1024 * 1024
_GZIP_WBITS = 31  # zlib's window bits for a gzip header and trailer


def read_body(stream: IO[bytes], limit: int, *, gzipped: bool = False) -> bytes:
    """All of `stream`, inflated when `gzipped`, or PayloadTooLarge past `limit` bytes.

    A gzip body may hold several members (RFC 1952 §2.2); a truncated or corrupt one is
    an UnsupportedMediaType naming Content-Encoding.
    """
    # BytesIO grows in place and hands its buffer over without a copy (getvalue).
    body = io.BytesIO()
    inflater = zlib.decompressobj(wbits=_GZIP_WBITS) if gzipped else None
    while chunk := _read(stream):
        if inflater is None:
            body.write(chunk)
            _check_size(body, limit, "body")
        else:
            inflater = _inflate(inflater, chunk, body, limit)
    if inflater is not None and not inflater.eof:
        raise UnsupportedMediaType("gzip body is truncated", header="Content-Encoding")
    return body.getvalue()


def _read(stream: IO[bytes]) -> bytes:
    """The next piece of the body; a client too slow or gone, or broken chunked framing,
    is the client's error, not the service's."""
    try:
        return stream.read(READ_CHUNK)
    except TimeoutError:  # the server's read deadline (service.front.worker)
        raise RequestTimeout("the request body did not arrive within the read deadline") \
            from None
    except OSError:
        raise _unreadable("the request body ended before it was complete") from None
    except ParseException:  # gunicorn reading a chunked body
        raise _unreadable("the chunked framing of the request body is malformed") from None


def _unreadable(reason: str) -> InvalidDump:
    return InvalidDump(reason, errors=[{"instance": None, "path": "$", "detail": reason}])


def _inflate(inflater: zlib._Decompress, data: bytes, body: io.BytesIO,
             limit: int) -> zlib._Decompress:
    """Inflate `data` into `body` READ_CHUNK at a time; the inflater for what follows."""
    while True:
        try:
            piece = inflater.decompress(data, READ_CHUNK)
        except zlib.error:
            raise UnsupportedMediaType("body is not valid gzip data",
                                       header="Content-Encoding") from None
        body.write(piece)
        _check_size(body, limit, "decompressed body")
        if inflater.eof:
            data = inflater.unused_data
            if not data:
                return inflater
            inflater = zlib.decompressobj(wbits=_GZIP_WBITS)  # the next gzip member
            continue
        data = inflater.unconsumed_tail
        # A full piece may leave output pending inside zlib even with no input left.
        if not data and len(piece) < READ_CHUNK:
            return inflater


def _check_size(body: io.BytesIO, limit: int, what: str) -> None:
    if body.tell() > limit:
        raise PayloadTooLarge(f"{what} exceeds the limit of {limit} bytes")
