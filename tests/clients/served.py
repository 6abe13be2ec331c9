"""The service as the client tests see it: its URL, its app, the example files it stands
for, and every request a client made to it (recorded by a WSGI wrapper)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from flask import Flask
from werkzeug.wsgi import ClosingIterator


@dataclass(frozen=True)
class Exchange:
    """One request a client made to the service, and the answer's status and type."""

    method: str
    path: str  # with the query string
    accept: str
    status: int
    content_type: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} [Accept: {self.accept}] → {self.status} " \
               f"{self.content_type}"


@dataclass
class Service:
    """The running service: its root URL, its app, the example files it stands for, and
    every request it answered (recorded by a WSGI wrapper, for assertions and reports)."""

    url: str
    app: Flask
    files: dict[str, Path]  # SOP Instance UID → the emulator's .dcm file
    exchanges: list[Exchange] = field(default_factory=list)

    def originals(self) -> dict[str, pydicom.Dataset]:
        return {uid: pydicom.dcmread(path) for uid, path in self.files.items()}


@dataclass(frozen=True)
class ExampleStudy:
    study: str
    ct_series: str
    sr_series: str
    ct: tuple[str, ...]  # SOP Instance UIDs
    sr: tuple[str, ...]
    report_text: tuple[str, ...]  # the TextValues of the SR's content tree


class ExchangeRecorder:
    """WSGI wrapper: each request and its answer's status land in `exchanges`, and
    `wait_idle` waits until no answer is in flight (a browser may still be loading when a
    test ends: the store must not be closed under a request that holds a connection)."""

    def __init__(self, app: Flask, exchanges: list[Exchange]) -> None:
        self.inner = app.wsgi_app
        self.exchanges = exchanges
        self.in_flight = 0
        self.idle = threading.Condition()
        app.wsgi_app = self  # type: ignore[method-assign]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            query = environ.get("QUERY_STRING")
            self.exchanges.append(Exchange(
                environ["REQUEST_METHOD"],
                environ.get("PATH_INFO", "") + (f"?{query}" if query else ""),
                environ.get("HTTP_ACCEPT", ""), int(status.split()[0]),
                next((v for k, v in headers if k.lower() == "content-type"), "")))
            return start_response(status, headers, *args)

        with self.idle:
            self.in_flight += 1
        try:
            return ClosingIterator(self.inner(environ, start), [self._finished])
        except BaseException:
            self._finished()
            raise

    def _finished(self) -> None:
        with self.idle:
            self.in_flight -= 1
            self.idle.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> None:
        with self.idle:
            if not self.idle.wait_for(lambda: self.in_flight == 0, timeout):
                raise RuntimeError(f"{self.in_flight} requests still in flight after {timeout} s")
