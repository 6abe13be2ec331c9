"""The explorer end to end: headless Chromium (Selenium) → the service on a loopback port →
the Healthcare API emulator serving the shipped example study's pixels.

One server, one emulator and one browser for the whole directory (starting Chromium costs
seconds); each test navigates to its own deep link. Chromium missing → the browser tests
are skipped with the reason; CI installs Debian's `chromium` and `chromium-driver`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.examples.shipped import load_example_dump
from tests.support.chromium import start_chromium
from tests.support.demo import demo_app, running_demo
from tests.support.net import serving


@dataclass
class Explorer:
    """The running service: its base URL, its app (store), and the example study's UIDs."""

    url: str
    app: Flask
    study: dict[str, Any]

    def link(self, fragment: str = "") -> str:
        return f"{self.url}/{fragment}"


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The demo mode's emulator: the example study's .dcm files on a loopback Healthcare API."""
    with running_demo(tmp_path_factory.mktemp("explorer-demo")) as handle:
        yield handle


@pytest.fixture(scope="session")
def make_server_for(demo: Any, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Start the service (example study ingested) behind an optional WSGI wrapper."""
    with ExitStack() as started:
        def make(wrap: Callable[[Flask], None] | None = None) -> Explorer:
            folder = tmp_path_factory.mktemp("explorer-store")
            app = demo_app(demo, started, f"sqlite:///{folder / 'store.sqlite3'}")
            if wrap is not None:
                wrap(app)
            server = started.enter_context(serving(app, name="explorer-test-server"))
            return Explorer(f"http://127.0.0.1:{server.server_port}", app, example_study())

        yield make


def example_study() -> dict[str, Any]:
    """UIDs and names of the shipped example dump, read from the dump itself."""
    dump = load_example_dump()

    def text(instance: dict[str, Any], tag: str) -> Any:
        return instance[tag]["Value"][0]

    ct = [item for item in dump if text(item, "00080060") == "CT"]
    sr = [item for item in dump if text(item, "00080060") == "SR"]
    return {"study": text(ct[0], "0020000D"), "ct_series": text(ct[0], "0020000E"),
            "sr_series": text(sr[0], "0020000E"), "ct": ct, "sr": sr,
            "patient_name": text(ct[0], "00100010")["Alphabetic"],
            "patient_id": text(ct[0], "00100020")}


@pytest.fixture(scope="session")
def explorer(make_server_for) -> Explorer:  # type: ignore[no-untyped-def]
    return make_server_for()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("explorer-screenshots")
