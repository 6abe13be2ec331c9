"""Caller authentication (a later issue adds it to the service): the page asks for a key or
token on 401, sends it as a bearer header on every API call, pixels included, and keeps it
in memory only — a reload asks again and Web Storage stays empty.

The service here is wrapped by a small gate in front of /v1/, standing in for that feature.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from flask import Flask, Response, request

pytest.importorskip("selenium", reason="Selenium drives the browser: pip install selenium")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from tests.support.browser import (  # noqa: E402
    canvas_sample,
    element,
    open_fresh,
    storage_sizes,
    wait_for,
)

SECRET = "s3cret-token-for-tests"


def require_bearer(seen: list[str]):  # type: ignore[no-untyped-def]
    def wrap(app: Flask) -> None:
        @app.before_request
        def gate() -> Response | None:
            if not request.path.startswith("/v1/"):
                return None
            given = request.headers.get("Authorization", "")
            seen.append(f"{request.path} {given}")
            if given == f"Bearer {SECRET}":
                return None
            body = {"type": "about:blank", "title": "Unauthorized", "status": 401,
                    "detail": "This service needs an API key."}
            return Response(orjson.dumps(body), status=401, mimetype="application/problem+json",
                            headers={"WWW-Authenticate": "Bearer"})

    return wrap


@pytest.fixture(scope="module")
def gated(make_server_for) -> tuple[Any, list[str]]:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    return make_server_for(require_bearer(seen)), seen


def sign_in(browser, token: str) -> None:  # type: ignore[no-untyped-def]
    element(browser, "#auth-dialog[open]")
    field = browser.find_element(By.ID, "auth-token")
    field.send_keys(token, Keys.ENTER)


def test_page_asks_for_a_token_and_keeps_it_in_memory(gated, browser) -> None:
    server, seen = gated
    open_fresh(browser, server.link("#/search"))
    assert "needs an API key" in element(browser, "#auth-dialog[open] #auth-reason").text
    sign_in(browser, "wrong")
    wait_for(browser, lambda d: "refused" in d.find_element(By.ID, "auth-reason").text
             and d.find_elements(By.CSS_SELECTOR, "#auth-dialog[open]"))
    sign_in(browser, SECRET)
    row = element(browser, "#study-results tbody tr")
    assert server.study["patient_id"] in row.text
    assert f"/v1/studies Bearer {SECRET}" in seen
    assert "/v1/studies Bearer wrong" in seen
    assert storage_sizes(browser) == (0, 0)
    assert SECRET not in browser.current_url

    # A new page load has forgotten it; the viewer's pixel requests carry it once given.
    study = server.study
    open_fresh(browser, server.link(f"#/studies/{study['study']}/series/{study['ct_series']}"
                                    "/viewer?window=lung"))
    sign_in(browser, SECRET)
    wait_for(browser, lambda d: canvas_sample(d, 64)["slice"] == "1")
    assert any("/pixels" in line and line.endswith(f"Bearer {SECRET}") for line in seen)
    assert storage_sizes(browser) == (0, 0)


def test_cancel_shows_the_problem_instead_of_data(gated, browser) -> None:
    server, _ = gated
    open_fresh(browser, server.link("#/search"))
    element(browser, "#auth-dialog[open]")
    browser.find_element(By.ID, "auth-cancel").click()
    alert = element(browser, ".error[role=alert]")
    assert "401" in alert.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#study-results")
