"""The service as the client tests see it: its URL, its app, the example files it stands
for, and every request a client made to it (recorded by a WSGI wrapper)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from flask import Flask


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


def record_exchanges(app: Flask, exchanges: list[Exchange]) -> None:
    """Wrap the app so that each request and its answer's status land in `exchanges`."""
    inner = app.wsgi_app

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            query = environ.get("QUERY_STRING")
            exchanges.append(Exchange(
                environ["REQUEST_METHOD"],
                environ.get("PATH_INFO", "") + (f"?{query}" if query else ""),
                environ.get("HTTP_ACCEPT", ""), int(status.split()[0]),
                next((v for k, v in headers if k.lower() == "content-type"), "")))
            return start_response(status, headers, *args)

        return inner(environ, start)

    app.wsgi_app = recording  # type: ignore[method-assign]
