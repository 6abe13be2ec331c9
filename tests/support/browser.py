"""Small helpers to drive a page in Selenium: waits, texts, canvas pixels (the explorer's);
shared by tests/explorer and tests/clients (OHIF)."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 20

# Every `step`-th pixel of every `step`-th row of the canvas, red channel (the image is grey).
CANVAS_SAMPLE = """
const canvas = document.getElementById('slice-canvas');
if (!canvas) return {width: 0, height: 0, values: [], slice: null, window: null};
const step = arguments[0];
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
const out = [];
for (let row = 0; row < canvas.height; row += step)
  for (let column = 0; column < canvas.width; column += step)
    out.push(data[(row * canvas.width + column) * 4]);
return {width: canvas.width, height: canvas.height, values: out,
        slice: canvas.dataset.slice || null, window: canvas.dataset.window || null};
"""


def wait_for(driver: WebDriver, condition: Any, timeout: float = TIMEOUT) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def element(driver: WebDriver, css: str) -> WebElement:
    return wait_for(driver, lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, css)), None))


def text_of(driver: WebDriver, css: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, css).text


def wait_text(driver: WebDriver, css: str, predicate: Any) -> str:
    def check(d: WebDriver) -> str | None:
        found = d.find_elements(By.CSS_SELECTOR, css)
        return found[0].text if found and predicate(found[0].text) else None

    return wait_for(driver, check)


def canvas_sample(driver: WebDriver, step: int = 8) -> dict[str, Any]:
    return driver.execute_script(CANVAS_SAMPLE, step)


def storage_sizes(driver: WebDriver) -> tuple[int, int]:
    return tuple(driver.execute_script(
        "return [window.localStorage.length, window.sessionStorage.length];"))


def open_fresh(driver: WebDriver, url: str) -> None:
    """Load `url` as a new document (a hash-only change would keep the old page state)."""
    driver.get("about:blank")
    driver.get(url)
