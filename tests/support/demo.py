"""The demo mode's emulator (the example study's .dcm files on a loopback Healthcare API)
and apps that fetch from it, as `dicom-resolver serve` runs them without credentials.

Shared by tests/clients and tests/explorer; each keeps its own fixtures and calls these.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from flask import Flask

from service.cli.demo import DemoHandle, start_demo
from service.settings import Settings
from tests.support.emulated import close_app, emulated_app, emulator_credentials


@contextmanager
def running_demo(workdir: Path) -> Iterator[DemoHandle]:
    """Demo mode's emulator over the example files written into `workdir`, until the block
    ends (its console text goes nowhere)."""
    settings = Settings.load(environ={}, database_url=f"sqlite:///{workdir / 'unused.sqlite3'}")
    with start_demo(settings, workdir, out=io.StringIO()) as handle:
        yield handle


def demo_app(demo: DemoHandle, started: ExitStack, database_url: str,
             **overrides: Any) -> Flask:
    """An app on `database_url` fetching from the demo's emulator with the production
    backoffs (nothing here injects faults), the example study ingested; `started` closes it."""
    settings = Settings.load(environ={}, database_url=database_url,
                             **{**demo.settings_overrides, **overrides})
    app = emulated_app(settings, credentials=emulator_credentials(demo.emulator),
                       fast_retries=False)
    started.callback(close_app, app)
    demo.ingest(app.extensions["engine"])
    return app
