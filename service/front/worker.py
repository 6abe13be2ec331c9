"""gunicorn's threaded worker, reading each request whole in its event loop first.

gunicorn's gthread worker hands a connection to a thread as soon as it has a byte to
read; the thread then blocks until the request line, the headers and the body have
arrived. A client sending a byte every few seconds thus holds a thread, and a couple of
dozen such clients hold them all: /healthz stops answering. This worker reads requests
the way a buffering proxy does: in the event loop, without blocking, into a spool (in
memory up to SPOOL_IN_MEMORY bytes, then in an unlinked temporary file), and submits a
request to the thread pool only once it is whole. Threads therefore only ever serve
requests that have arrived; slow or idle clients hold a socket and a few kilobytes.

Deadlines (DICOM_RESOLVER_REQUEST_READ_TIMEOUT): a request must arrive whole within that
many seconds of its first byte, or the client gets a 408 problem and the connection is
closed. A connection with no request begun (fresh or kept alive) is closed after
gunicorn's `keepalive` seconds; when a worker has `worker_connections` connections, the
longest-idle ones are closed to make room, so idle clients cannot lock others out.

A body announced over DICOM_RESOLVER_MAX_DUMP_BYTES (the largest any route accepts) is
refused with a 413 problem at once, unread. Where the framing cannot be followed
(service.front.framing: malformed heads or chunks), the request goes to a thread at once
and gunicorn's parser or the application answers it from the bytes already read;
reading the rest of such a request from the socket is still bound by the deadline.
TLS and HTTP/2 are not read this way: with either configured, the worker behaves
exactly as gthread (terminate them in front).
"""

from __future__ import annotations

import contextlib
import errno
import io
import socket
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from typing import IO, Any

import orjson
from gunicorn import http
from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from service.errors import (
    PROBLEM_MEDIA_TYPE,
    PayloadTooLarge,
    RequestTimeout,
    ServiceError,
)
from service.front.framing import Progress, RequestFraming
from service.settings import Settings

SPOOL_IN_MEMORY = 64 * 1024  # bytes of a request kept in memory before it spools to disk
READ_CHUNK = 256 * 1024  # bytes read from a socket at once in the event loop
SWEEP_INTERVAL = 0.25  # seconds between checks of the deadlines
LINGER_SECONDS = 2.0  # after the last answer, how long unread request bytes are drained
LINGER_MAX_BYTES = 64 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_DEFAULT_HEAD_LIMIT = 1024 * 1024  # when gunicorn's limits are switched off (0)


class RequestReadTimeout(NoMoreData, TimeoutError):
    """The rest of a request did not arrive before its deadline.

    A NoMoreData to gunicorn (a client gone: the connection is closed, nothing logged
    as an error) and a TimeoutError to the application (service.api.bodies: 408).
    """


class _SpooledSource:
    """What the thread's HTTP parser reads: the spooled request, then (rarely: the request
    was handed over before it was whole) the socket, never past the request's deadline."""

    def __init__(self, spool: IO[bytes], sock: socket.socket, deadline: float,
                 whole: bool) -> None:
        self.spool = spool
        self.sock = sock
        self.deadline = deadline
        self.whole = whole

    def recv(self, size: int) -> bytes:
        data = self.spool.read(size)
        if data:
            return data
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise RequestReadTimeout()
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv(size)
        except TimeoutError:
            raise RequestReadTimeout() from None
        finally:
            self.sock.settimeout(None)

    def gettimeout(self) -> float | None:
        return self.sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        self.sock.settimeout(value)

    def rest(self) -> bytes:
        """Spooled bytes the parser did not read: the start of a pipelined request."""
        return self.spool.read()

    def close(self) -> None:
        self.spool.close()


class _Spool:
    """A request's bytes: in memory up to SPOOL_IN_MEMORY, beyond it in an unlinked file.

    (tempfile.SpooledTemporaryFile does the same, at a cost per request that shows on a
    GET that arrives in one piece, the common case.)"""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.size = 0
        self.file: IO[bytes] | None = None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.file is None and self.size <= SPOOL_IN_MEMORY:
            self.pieces.append(data)
            return
        if self.file is None:
            self.file = tempfile.TemporaryFile()
            self.file.writelines(self.pieces)
            self.pieces = []
        self.file.write(data)

    def reader(self) -> IO[bytes]:
        """The bytes written, to read from the start (this spool is not written again)."""
        if self.file is not None:
            self.file.seek(0)
            return self.file
        return io.BytesIO(self.pieces[0] if len(self.pieces) == 1 else b"".join(self.pieces))

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


@dataclass
class _Reading:
    """A request arriving on a connection."""

    framing: RequestFraming
    idle_until: float  # closed quietly then, if no byte of the request has come
    spool: _Spool = field(default_factory=_Spool)
    deadline: float | None = None  # set by its first byte: 408 then
    continued: bool = False  # "100 Continue" sent


class BufferingThreadWorker(ThreadWorker):
    """gthread with requests read whole, under a deadline, before a thread takes them."""

    def init_process(self) -> None:
        settings = Settings.load()
        self.read_timeout = settings.request_read_timeout
        self.max_body = settings.max_dump_bytes
        cfg = self.cfg
        self.max_head = (cfg.limit_request_line + cfg.limit_request_fields
                         * (cfg.limit_request_field_size + 2) + 4
                         if cfg.limit_request_line and cfg.limit_request_field_size
                         else _DEFAULT_HEAD_LIMIT)
        self.buffering = not cfg.is_ssl and cfg.http2_cleartext == "off"
        self.reading: dict[TConn, _Reading] = {}  # oldest first
        self.lingering: dict[TConn, tuple[float, int]] = {}  # until, bytes drained
        self.next_sweep = 0.0
        self.timeout_answer = _problem_answer(RequestTimeout(
            f"the request did not arrive whole within {self.read_timeout:g} s; "
            "send it faster or through a buffering proxy"))
        self.too_large_answer = _problem_answer(PayloadTooLarge(
            f"body exceeds the limit of {self.max_body} bytes"))
        super().init_process()

    # -- the event loop (main thread) --------------------------------------------------

    def accept(self, listener: socket.socket) -> None:
        if not self.buffering:
            return super().accept(listener)
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return None
            raise
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        self._read_request(conn, b"")
        return None

    def _read_request(self, conn: TConn, already: bytes) -> None:
        """Wait for the next request on `conn` (its first bytes may be `already` here)."""
        idle = self.cfg.keepalive if self.alive else min(self.cfg.keepalive,
                                                         STOP_KEEPALIVE_LINGER)
        reading = _Reading(RequestFraming(self.max_head, self.max_body),
                           idle_until=time.monotonic() + idle)
        self.reading[conn] = reading
        if already and self._received(conn, reading, already):
            return
        self.poller.register(conn.sock, _EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn: TConn, _sock: Any) -> None:
        reading = self.reading.get(conn)
        if reading is None:  # dropped earlier in this round of events
            return
        data = _receive(conn.sock)
        if data is None:
            return
        if not data:  # the client closed (or reset) the connection
            self._unregister(conn)
            self._forget(conn)
            self._close(conn)
            return
        if self._received(conn, reading, data):
            self._unregister(conn)

    def _received(self, conn: TConn, reading: _Reading, data: bytes) -> bool:
        """Take `data` in; whether the request went to a thread."""
        progress = reading.framing.feed(data)
        reading.spool.write(data)
        if reading.deadline is None and reading.framing.started:
            reading.deadline = time.monotonic() + self.read_timeout
        if progress is Progress.MORE:
            if reading.framing.expects_continue and not reading.continued:
                reading.continued = True
                _send_quietly(conn.sock, CONTINUE)
            return False
        if progress is Progress.TOO_LARGE:  # no thread, and no waiting for the body
            self._drop(conn)
            _send_quietly(conn.sock, self.too_large_answer)
            self._linger(conn)
            return True
        del self.reading[conn]
        deadline = reading.deadline or time.monotonic() + self.read_timeout
        conn.buffered = _SpooledSource(
            reading.spool.reader(), conn.sock, deadline, whole=progress is Progress.COMPLETE)
        self.enqueue_req(conn)
        return True

    def murder_pending(self) -> None:
        """Every SWEEP_INTERVAL: deadlines, idle connections, lingering closes."""
        super().murder_pending()
        now = time.monotonic()
        if now < self.next_sweep:
            return
        self.next_sweep = now + SWEEP_INTERVAL
        for conn, reading in list(self.reading.items()):
            if reading.deadline is not None and now >= reading.deadline:
                self.log.info("no whole request from %s within %s s: 408",
                              _peer(conn), self.read_timeout)
                self._drop(conn)
                _send_quietly(conn.sock, self.timeout_answer)
                self._linger(conn)
            elif reading.deadline is None and now >= reading.idle_until:
                self._drop(conn)
                self._close(conn)
        # At capacity, the longest-idle connections make room for new ones.
        idle = [conn for conn, reading in self.reading.items() if reading.deadline is None]
        for conn in idle[:max(0, self.nr_conns - self.worker_connections + 1)]:
            self._drop(conn)
            self._close(conn)
        for conn, (until, _) in list(self.lingering.items()):
            if now >= until:
                self._end_linger(conn)

    def _cap_keepalive(self, deadline: float) -> None:
        """Stopping: connections with no request begun get a short while at most."""
        super()._cap_keepalive(deadline)
        for reading in self.reading.values():
            reading.idle_until = min(reading.idle_until, deadline)

    def finish_request(self, conn: TConn, fs: Any) -> None:
        if not self.buffering:
            return super().finish_request(conn, fs)
        try:
            keep = bool(fs.result()) if not fs.cancelled() else False
        except Exception:  # noqa: BLE001 - whatever the thread met, the connection ends
            keep = False
        source = conn.parser.unreader.sock if conn.parser is not None else None
        already = b""
        if isinstance(source, _SpooledSource):
            if keep:
                already = conn.parser.unreader.take_buffered() + source.rest()
            source.close()
            conn.parser.unreader.sock = conn.sock
        if keep:
            conn.sock.setblocking(False)
            self._read_request(conn, already)
        else:
            self._linger(conn)
        return None

    def _drop(self, conn: TConn) -> None:
        """Stop reading a request on `conn` (unregistered, its spool gone)."""
        self._unregister(conn)
        self._forget(conn)

    def _unregister(self, conn: TConn) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _forget(self, conn: TConn) -> None:
        self.reading.pop(conn).spool.close()

    def _linger(self, conn: TConn) -> None:
        """Close after the answer without losing it (RFC 9112 §9.6): stop sending, drain
        what the client still sends for a moment, then close; never blocking the loop."""
        try:
            conn.sock.setblocking(False)
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        self.lingering[conn] = (time.monotonic() + LINGER_SECONDS, 0)
        self.poller.register(conn.sock, _EVENT_READ, partial(self._on_lingering, conn))

    def _on_lingering(self, conn: TConn, _sock: Any) -> None:
        if conn not in self.lingering:
            return
        until, drained = self.lingering[conn]
        data = _receive(conn.sock)
        if data is None:
            return
        drained += len(data)
        if not data or drained >= LINGER_MAX_BYTES:
            self._end_linger(conn)
        else:
            self.lingering[conn] = (until, drained)

    def _end_linger(self, conn: TConn) -> None:
        del self.lingering[conn]
        self._unregister(conn)
        self._close(conn)

    def _close(self, conn: TConn) -> None:
        self.nr_conns -= 1
        conn.close()

    # -- a thread ------------------------------------------------------------------------

    def handle(self, conn: TConn) -> Any:
        source = conn.__dict__.pop("buffered", None)
        if source is None:
            return super().handle(conn)
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
            conn.initialized = True
        conn.parser.unreader.sock = source
        return super().handle(conn)

    def handle_request(self, req: Any, conn: TConn) -> bool:
        source = conn.parser.unreader.sock
        if isinstance(source, _SpooledSource) and not source.whole:
            req.must_close = True  # the rest of it may be on its way: answer, then close
        return super().handle_request(req, conn)


_EVENT_READ = 1  # selectors.EVENT_READ


def _problem_answer(problem: ServiceError) -> bytes:
    """A whole HTTP answer carrying `problem`, closing the connection."""
    body = orjson.dumps(problem.to_problem())
    head = (f"HTTP/1.1 {problem.status} {HTTPStatus(problem.status).phrase}\r\n"
            f"Content-Type: {PROBLEM_MEDIA_TYPE}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("ascii") + body


def _receive(sock: socket.socket) -> bytes | None:
    """What a readable non-blocking socket holds, up to READ_CHUNK: b"" when the peer
    closed or reset the connection, None when there is nothing to read after all."""
    try:
        return sock.recv(READ_CHUNK)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    """A short answer on a non-blocking socket, as much as it takes now (best effort)."""
    try:
        sock.send(data)
    except OSError:
        pass


def _peer(conn: TConn) -> str:
    client = conn.client
    return str(client[0]) if isinstance(client, tuple) and client else "a unix socket"
