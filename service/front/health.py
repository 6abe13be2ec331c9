"""GET and HEAD /healthz answered in front of Flask.

A liveness probe asks often and needs nothing of the app: no routing, no request
context, no authentication (/healthz is open), no store. This WSGI wrapper answers it
with what the Flask view answers (service.api.health.healthz: the same status, body and
headers, the request id echoed or made), counts it in the same metrics under the route
/healthz, and hands every other request, other methods of /healthz included (OPTIONS,
405s), to Flask. create_app installs it as the app's wsgi_app.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from service.observability import REQUEST_ID_HEADER, Metrics, request_id_of

PATH = "/healthz"
BODY = b'{"status":"ok"}\n'  # what Flask's JSON provider writes for {"status": "ok"}
_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class HealthzFront:
    """A WSGI app answering GET/HEAD /healthz itself and the rest through `app`."""

    def __init__(self, app: WsgiApp, metrics: Metrics) -> None:
        self.app = app
        self._metrics = metrics

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") != PATH or method not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        started = time.perf_counter()
        request_id = request_id_of(environ.get("HTTP_X_REQUEST_ID", ""))
        start_response("200 OK", [*_HEADERS, (REQUEST_ID_HEADER, request_id)])
        count, latency = self._metrics.request_metrics(method, PATH, 200)
        count.inc()
        latency.observe(time.perf_counter() - started)
        return [] if method == "HEAD" else [BODY]
