"""Debian's headless Chromium under Selenium, for the explorer's and the viewers' tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--window-size=1400,1000")
MISSING = ("Chromium or chromedriver is not installed (apt-get install chromium "
           "chromium-driver); CI installs them")


def _binary(*names: str) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


def start_chromium(profile: Path, *, extra_flags: tuple[str, ...] = (),
                   logging_prefs: dict[str, str] | None = None) -> Any:
    """A Selenium driver of headless Chromium with its own profile folder; skips the test
    (with the reason) when Chromium, chromedriver or Selenium is missing."""
    chromium = _binary("chromium", "chromium-browser", "google-chrome")
    driver_path = _binary("chromedriver", "chromium-driver")
    if chromium is None or driver_path is None:
        pytest.skip(MISSING)
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*FLAGS, *extra_flags):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", logging_prefs or {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_script_timeout(20)
    return driver
