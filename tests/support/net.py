"""Loopback servers for tests: a WSGI app served from a thread (a free port up front:
dicom_resolver_testing.stack.free_port)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server


@contextmanager
def serving(app: Flask, port: int = 0, *,
            name: str | None = None) -> Iterator[BaseWSGIServer]:
    """`app` served by werkzeug (threaded) on 127.0.0.1:`port` until the block ends."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
