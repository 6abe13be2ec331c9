"""OHIF, the prebuilt viewer from npm, unchanged, in headless Chromium against the service.

The viewer is served from its own loopback origin, so every DICOMweb call is cross-origin
and works only with the service's CORS setting for that origin (the README's set-up).
What is asserted is what a person sees (the study list row, a drawn CT slice that changes
on scrolling, the report text), and that no request the viewer made failed.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest

pytest.importorskip("selenium", reason="Selenium drives the browser: pip install selenium")

from selenium.webdriver.common.action_chains import ActionChains, ScrollOrigin  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from tests.clients.network import requests_since_last_call  # noqa: E402
from tests.clients.ohif import (  # noqa: E402
    ViewerServer,
    app_config,
    app_config_data_source,
    check_integrity,
    ohif_dist,
    serving_viewer,
)
from tests.clients.served import ExampleStudy, Service  # noqa: E402
from tests.support.browser import element, open_fresh, wait_for  # noqa: E402
from tests.support.chromium import start_chromium  # noqa: E402

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
LOAD_TIMEOUT = 60  # a cold OHIF start on a busy 2-core machine takes ~10-20 s

# Pixels of the viewport canvas: its size and a coarse sample of the red channel.
CANVAS_PIXELS = """
const canvas = document.querySelector('.cornerstone-canvas');
if (!canvas || !canvas.width) return null;
const context = canvas.getContext('2d');
const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
const sample = [];
for (let i = 0; i < data.length; i += 4 * 97) sample.push(data[i]);
return {width: canvas.width, height: canvas.height, sample: sample};
"""
# The natural size of the CT series' thumbnail image once it has loaded, else null.
THUMBNAIL_SIZE = """
const image = document.querySelector('[data-cy=study-browser-thumbnail] img');
return image && image.complete && image.naturalWidth
  ? [image.naturalWidth, image.naturalHeight] : null;
"""
# The study list's rows as text (read in one go: the list re-renders while it loads).
ROW_TEXTS = "return Array.from(document.querySelectorAll('tr')).map(row => row.innerText);"


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
    # SwiftShader gives headless Chromium the WebGL that cornerstone renders with.
    driver = start_chromium(tmp_path_factory.mktemp("ohif-profile"),
                            extra_flags=("--enable-unsafe-swiftshader",),
                            logging_prefs={"browser": "ALL", "performance": "ALL"})
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def service(viewer: ViewerServer, start_service: Any) -> Service:
    """The service with CORS open to the viewer's origin, and the viewer pointed at it."""
    running = start_service(dicomweb_cors_origins=(viewer.url,))
    viewer.config = app_config(running.url)
    return running


@pytest.fixture
def browser(ohif_browser: Any, service: Service) -> Iterator[Any]:
    """The browser on a blank page with empty network and console logs; after the test,
    back on a blank page (the viewer stops loading from the service before it stops)."""
    open_fresh(ohif_browser, "about:blank")
    requests_since_last_call(ohif_browser, ())
    ohif_browser.get_log("browser")
    yield ohif_browser
    open_fresh(ohif_browser, "about:blank")


def assert_nothing_failed(browser: Any, viewer: ViewerServer, service: Service) -> None:
    """Every request the viewer made (its own files, DICOMweb) got a non-error answer, and
    it logged no error on the console."""
    made = requests_since_last_call(browser, (viewer.url, service.url))
    failed = [str(request) for request in made if request.failed]
    assert not failed, f"requests of the viewer failed: {failed}"
    errors = [entry["message"] for entry in browser.get_log("browser")
              if entry["level"] == "SEVERE"]
    assert not errors, f"the viewer logged errors: {errors}"
    assert any(request.url.startswith(f"{service.url}/dicomweb/") for request in made), \
        "the viewer made no DICOMweb request to the service"


def ct_file(service: Service, example: ExampleStudy) -> pydicom.Dataset:
    return pydicom.dcmread(service.files[example.ct[0]], stop_before_pixels=True)


def body_text(driver: Any) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def dismiss_tour(driver: Any) -> None:
    """OHIF's first-visit guided tour covers the viewport; a person would skip it."""
    for button in driver.find_elements(By.XPATH, "//*[text()='Skip all']"):
        button.click()


def slice_label(driver: Any) -> str:
    """The viewport overlay's image index, e.g. "I:3 (3/24)"."""
    overlay = element(driver, "[data-cy=viewport-overlay-bottom-right]")
    return overlay.text.replace("\n", "")


def drawn(pixels: dict[str, Any] | None) -> dict[str, Any] | None:
    """The pixels when the canvas shows an image: dark background and bright tissue."""
    if not pixels:
        return None
    values = pixels["sample"]
    return pixels if min(values) < 30 and max(values) > 150 and len(set(values)) > 20 else None


def test_study_list_shows_the_example_study(browser: Any, viewer: ViewerServer,
                                            service: Service, example: ExampleStudy) -> None:
    ct = ct_file(service, example)
    open_fresh(browser, f"{viewer.url}/")
    row = wait_for(browser, lambda d: next(
        (text for text in d.execute_script(ROW_TEXTS) if str(ct.AccessionNumber) in text),
        None), timeout=LOAD_TIMEOUT)
    assert str(ct.PatientName.family_name).upper() in row.upper()
    assert str(ct.StudyDescription) in row
    # Modalities in study: CT and SR, as pydicom reads the two series; and the instances.
    assert "CT" in row and "SR" in row
    assert str(len(example.ct) + len(example.sr)) in row.split()
    assert_nothing_failed(browser, viewer, service)


def test_viewer_draws_the_ct_and_scrolling_changes_the_slice(
        browser: Any, viewer: ViewerServer, service: Service, example: ExampleStudy) -> None:
    open_fresh(browser, f"{viewer.url}/viewer?StudyInstanceUIDs={example.study}")
    first = wait_for(browser, lambda d: drawn(d.execute_script(CANVAS_PIXELS)),
                     timeout=LOAD_TIMEOUT)
    wait_for(browser, lambda d: f"(1/{len(example.ct)})" in slice_label(d))
    dismiss_tour(browser)

    viewport = element(browser, ".cornerstone-canvas")
    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_element(viewport), 0, 300) \
        .perform()
    label = wait_for(browser, lambda d: (text := slice_label(d)) and "(1/" not in text and text)
    assert f"/{len(example.ct)})" in label
    after = wait_for(browser, lambda d: (pixels := d.execute_script(CANVAS_PIXELS))
                     and pixels["sample"] != first["sample"] and drawn(pixels))
    assert after["sample"] != first["sample"]
    assert_nothing_failed(browser, viewer, service)


def test_study_browser_shows_the_service_thumbnail(browser: Any, viewer: ViewerServer,
                                                   service: Service,
                                                   example: ExampleStudy) -> None:
    open_fresh(browser, f"{viewer.url}/viewer?StudyInstanceUIDs={example.study}")
    size = wait_for(browser, lambda d: d.execute_script(THUMBNAIL_SIZE), timeout=LOAD_TIMEOUT)
    assert size[0] > 0 and size[1] > 0
    # thumbnailDirect: the <img> source is the service's instance thumbnail, a JPEG.
    thumbnails = [exchange for exchange in service.exchanges
                  if exchange.path.startswith(f"/dicomweb/studies/{example.study}/series/"
                                              f"{example.ct_series}/instances/")
                  and "/thumbnail" in exchange.path]
    assert thumbnails, [str(exchange) for exchange in service.exchanges]
    assert {(exchange.status, exchange.content_type) for exchange in thumbnails} == \
        {(200, "image/jpeg")}
    assert_nothing_failed(browser, viewer, service)


def test_sr_panel_shows_the_report_text(browser: Any, viewer: ViewerServer, service: Service,
                                        example: ExampleStudy) -> None:
    assert example.report_text, "the example SR has text items"
    open_fresh(browser, f"{viewer.url}/viewer?StudyInstanceUIDs={example.study}")
    wait_for(browser, lambda d: drawn(d.execute_script(CANVAS_PIXELS)), timeout=LOAD_TIMEOUT)
    dismiss_tour(browser)
    sr_thumbnail = element(browser, "[data-cy=study-browser-thumbnail-no-image]")
    report = pydicom.dcmread(service.files[example.sr[0]], stop_before_pixels=True)
    assert str(report.SeriesDescription) in sr_thumbnail.find_element(By.XPATH, "..").text
    ActionChains(browser).double_click(sr_thumbnail).perform()
    text = wait_for(browser, lambda d: (body := body_text(d))
                    and example.report_text[0] in body and body)
    for item in example.report_text:
        assert item in text
    assert_nothing_failed(browser, viewer, service)



def readme_data_source() -> dict[str, Any]:
    """The `key: value` lines of the README's OHIF data source (the js block of "View it in
    OHIF"): quoted strings as str, true/false as bool."""
    section = README.read_text().split("## View it in OHIF", 1)[1]
    block = section.split("```js", 1)[1].split("```", 1)[0]
    found: dict[str, Any] = {}
    for key, raw in re.findall(r"^\s*(\w+): ([^{\n]+?),?\s*(?:\s//.*)?$", block, re.MULTILINE):
        found[key] = {"true": True, "false": False}.get(raw, raw.strip("'\""))
    return found


def test_the_readme_documents_the_configuration_tested_here() -> None:
    documented = readme_data_source()
    tested = app_config_data_source("http://127.0.0.1:8080")
    assert documented["namespace"] == tested["namespace"]
    for key in ("qidoSupportsIncludeField", "imageRendering", "thumbnailRendering",
                "enableStudyLazyLoad"):
        assert documented[key] == tested["configuration"][key], key
    for key in ("qidoRoot", "wadoRoot"):
        assert documented[key].endswith("/dicomweb"), key


def test_a_tarball_other_than_the_pinned_one_is_refused() -> None:
    content = b"the @ohif/app tarball"
    digest = base64.b64encode(hashlib.sha512(content).digest()).decode()
    check_integrity(content, f"sha512-{digest}")
    with pytest.raises(RuntimeError, match="is not the pinned"):
        check_integrity(content + b"!", f"sha512-{digest}")
