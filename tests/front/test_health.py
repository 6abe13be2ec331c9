"""/healthz answered in front of Flask (service.front.health): the answer Flask's view
gives, byte for byte, and the same metrics."""

from __future__ import annotations

import re

from flask import Flask
from werkzeug.test import Client
from werkzeug.wrappers import Response

from service.front.health import HealthzFront


def test_the_front_answers_healthz_as_the_flask_view_does(app: Flask) -> None:
    front = app.wsgi_app
    assert isinstance(front, HealthzFront)
    behind = Client(front.app, Response)  # the Flask app without the front
    in_front = Client(front, Response)
    for method in ("GET", "HEAD"):
        flask_answer = behind.open("/healthz?probe=1", method=method,
                                   headers={"X-Request-ID": "lb-1"})
        front_answer = in_front.open("/healthz?probe=1", method=method,
                                     headers={"X-Request-ID": "lb-1"})
        assert front_answer.status == flask_answer.status
        assert front_answer.get_data() == flask_answer.get_data()
        assert sorted(front_answer.headers.items()) == sorted(flask_answer.headers.items())
        made = in_front.open("/healthz", method=method).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", made)
    for method in ("OPTIONS", "POST"):  # still Flask's: the route's Allow, a 405 problem
        assert in_front.open("/healthz", method=method).status == \
            behind.open("/healthz", method=method).status


def test_probes_answered_in_front_are_counted_as_before(app: Flask) -> None:
    client = app.test_client()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.head("/healthz").status_code == 200
    text = client.get("/metrics").get_data(as_text=True)
    assert 'dicom_resolver_http_requests_total{method="GET",route="/healthz",status="200"} 3.0' \
        in text
    assert 'dicom_resolver_http_requests_total{method="HEAD",route="/healthz",status="200"} 1.0' \
        in text
    assert 'dicom_resolver_http_request_duration_seconds_count{method="GET",route="/healthz"} 3.0' \
        in text
