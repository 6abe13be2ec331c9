"""The service's one route, as a plain WSGI app: GET /studies/{uid}/lung → JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

from dicom_resolver_client import Client, NotFound

from lung_summary import summarize_study


def make_app(client: Client) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        parts = environ.get("PATH_INFO", "").strip("/").split("/")
        if len(parts) != 3 or parts[0] != "studies" or parts[2] != "lung":
            return _answer(start_response, "404 Not Found", {"detail": "no such route"})
        try:
            summaries = summarize_study(client, parts[1])
        except NotFound as exc:  # dicom-resolver's problem, passed on
            return _answer(start_response, "404 Not Found", {"detail": exc.detail})
        return _answer(start_response, "200 OK", {"series": [asdict(s) for s in summaries]})

    return app


def _answer(start_response: Callable[..., Any], status: str, body: object) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]
