"""OHIF (the prebuilt viewer from npm) in headless Chromium against the service."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.clients.ohif import ViewerServer, app_config, ohif_dist, serving_viewer
from tests.support.chromium import start_chromium

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def viewer() -> Iterator[ViewerServer]:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (apt-get install npm): it fetches the pinned "
                    "@ohif/app build; CI installs it")
    with serving_viewer(ohif_dist(npm=npm)) as server:
        yield server


@pytest.fixture(scope="session")
def ohif_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = start_chromium(tmp_path_factory.mktemp("ohif-profile"),
                            extra_flags=("--enable-unsafe-swiftshader",),
                            logging_prefs={"browser": "ALL", "performance": "ALL"})
    try:
        yield driver
    finally:
        driver.quit()


def test_probe(viewer, ohif_browser, start_service, example, tmp_path):
    service = start_service(dicomweb_cors_origins=(viewer.url,))
    viewer.config = app_config(service.url, thumbnail_rendering="wadors")
    ohif_browser.get(viewer.url + "/")
    import time
    time.sleep(15)
    ohif_browser.save_screenshot("/tmp/h12c-list.png")
    ohif_browser.get(f"{viewer.url}/viewer?StudyInstanceUIDs={example.study}")
    time.sleep(25)
    ohif_browser.save_screenshot("/tmp/h12c-viewer.png")
    for entry in ohif_browser.get_log("browser"):
        print("B", entry["level"], entry["message"][:300])
    for entry in ohif_browser.get_log("performance"):
        m = json.loads(entry["message"])["message"]
        if m["method"] in ("Network.requestWillBeSent",):
            print("REQ", m["params"]["request"]["method"], m["params"]["request"]["url"][:200])
        if m["method"] == "Network.responseReceived":
            r = m["params"]["response"]
            print("RESP", r["status"], r["url"][:200], r.get("mimeType"))
        if m["method"] == "Network.loadingFailed":
            print("FAIL", m["params"])
