"""Where an HTTP/1.x request ends, learnt from its bytes as they arrive (RFC 9112 §6).

The worker (service.front.worker) reads requests in its event loop and hands one to a
thread only once it has arrived whole, so that a slow client holds a socket, never a
thread. This module only finds the end of a request; the HTTP parser that the thread
runs (gunicorn's) still parses and judges it. Whenever the framing cannot be followed —
a malformed or over-long head, a broken chunk, a body over the limit — the request is
handed over as it is: the parser answers the error from the bytes already there. A
body announced over the limit (Content-Length, or chunk sizes adding up past it) is
refused without waiting for it.
"""

from __future__ import annotations

import enum
import re

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[^\r\n]*)?\Z")
_MAX_CHUNK_LINE = 4096  # a chunk-size line with extensions, or one trailer field
_MAX_TRAILERS = 64 * 1024


class Progress(enum.Enum):
    """What the bytes seen so far say about the request."""

    MORE = "more"  # keep reading
    COMPLETE = "complete"  # the whole request has arrived (maybe more behind it)
    HAND_OVER = "hand over"  # not worth waiting for: let the parser answer it now
    TOO_LARGE = "too large"  # the body is over the limit: refuse it (413) unread


class RequestFraming:
    """Feed a request's bytes as they come; `feed` says when the request is whole.

    `max_head` bounds the request line and headers (gunicorn's limits), `max_body` the
    body (the largest any route accepts, Flask's MAX_CONTENT_LENGTH): past either,
    waiting is pointless.
    """

    def __init__(self, max_head: int, max_body: int) -> None:
        self.max_head = max_head
        self.max_body = max_body
        self.received = 0  # bytes of this request seen, head and body
        self.expects_continue = False  # the client waits for "100 Continue" to send it
        self._head = bytearray()
        self._body: _LengthBody | _ChunkedBody | None = None

    @property
    def started(self) -> bool:
        """Whether any byte of the request (not counting blank lines before it) came."""
        return bool(self._head) or self._body is not None

    def feed(self, data: bytes) -> Progress:
        self.received += len(data)
        if self._body is None:
            if not self._head:
                data = data.lstrip(b"\r\n")  # RFC 9112 §2.2: ignore CRLF before a request
            self._head += data
            end = _HEAD_END.search(self._head)
            if end is None:
                return Progress.HAND_OVER if len(self._head) > self.max_head else Progress.MORE
            rest = bytes(self._head[end.end():])
            progress = self._start_body(bytes(self._head[:end.start()]))
            if progress is not Progress.MORE:
                return progress
            data = rest
        assert self._body is not None
        return self._body.feed(data)

    def _start_body(self, head: bytes) -> Progress:
        lines = head.split(b"\n")
        request_line = lines[0].rstrip(b"\r").split(b" ")
        if len(request_line) != 3 or not request_line[2].startswith(b"HTTP/1."):
            return Progress.HAND_OVER
        fields: dict[bytes, list[bytes]] = {}
        for line in lines[1:]:
            name, colon, value = line.rstrip(b"\r").partition(b":")
            if not colon:
                return Progress.HAND_OVER
            fields.setdefault(name.strip().lower(), []).append(value.strip(b" \t"))
        lengths = fields.get(b"content-length", [])
        codings = b",".join(fields.get(b"transfer-encoding", []))
        if codings:
            if lengths or codings.rsplit(b",", 1)[-1].strip(b" \t").lower() != b"chunked":
                return Progress.HAND_OVER  # refused by the parser (RFC 9112 §6.1, §6.3)
            self._body = _ChunkedBody(self.max_body)
        elif lengths:
            if len(lengths) > 1 or not lengths[0].isdigit():
                return Progress.HAND_OVER
            length = int(lengths[0])
            if length > self.max_body:
                return Progress.TOO_LARGE
            self._body = _LengthBody(length)
        else:
            self._body = _LengthBody(0)
        self.expects_continue = (request_line[2] != b"HTTP/1.0" and any(
            value.lower() == b"100-continue" for value in fields.get(b"expect", [])))
        return Progress.MORE


class _LengthBody:
    def __init__(self, length: int) -> None:
        self.missing = length

    def feed(self, data: bytes) -> Progress:
        self.missing -= len(data)
        return Progress.COMPLETE if self.missing <= 0 else Progress.MORE


class _ChunkedBody:
    """The chunked coding's framing (RFC 9112 §7.1), followed without keeping the data."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.size = 0  # body bytes announced so far
        self._line = bytearray()  # a chunk-size or trailer line being read
        self._data_left = 0  # bytes of the current chunk's data still to come
        self._crlf_left = 0  # bytes of the CRLF after a chunk's data still to come
        self._in_trailers = False
        self._trailer_bytes = 0

    def feed(self, data: bytes) -> Progress:
        position, size = 0, len(data)
        while position < size:
            if self._data_left:
                taken = min(self._data_left, size - position)
                self._data_left -= taken
                position += taken
                continue
            if self._crlf_left:
                expected = b"\r\n"[2 - self._crlf_left:]
                taken = min(self._crlf_left, size - position)
                if data[position:position + taken] != expected[:taken]:
                    return Progress.HAND_OVER
                self._crlf_left -= taken
                position += taken
                continue
            newline = data.find(b"\n", position)
            if newline < 0:
                self._line += data[position:]
                position = size
            else:
                self._line += data[position:newline + 1]
                position = newline + 1
                progress = self._end_of_line(bytes(self._line).rstrip(b"\r\n"))
                self._line.clear()
                if progress is not Progress.MORE:
                    return progress
            if len(self._line) > _MAX_CHUNK_LINE:
                return Progress.HAND_OVER
        return Progress.MORE

    def _end_of_line(self, line: bytes) -> Progress:
        if self._in_trailers:
            self._trailer_bytes += len(line) + 2
            if not line:
                return Progress.COMPLETE
            return Progress.HAND_OVER if self._trailer_bytes > _MAX_TRAILERS else Progress.MORE
        match = _CHUNK_SIZE.match(line)
        if match is None:
            return Progress.HAND_OVER
        chunk = int(match.group(1), 16)
        if chunk == 0:
            self._in_trailers = True
            return Progress.MORE
        self.size += chunk
        if self.size > self.max_body:
            return Progress.TOO_LARGE  # announced: no need to wait for the data
        self._data_left, self._crlf_left = chunk, 2
        return Progress.MORE
