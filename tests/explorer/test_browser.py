"""The explorer in headless Chromium against the real service and the emulator's pixels.

What is asserted is what a person sees: rows and text on screen, canvas pixels that follow
the window (compared with pydicom's HU through the standard's VOI function), labels that
follow the keyboard. Screenshots go to a temporary folder (path printed with -s).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

pytest.importorskip("selenium", reason="Selenium drives the browser: pip install selenium")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from service.pixels.window import WINDOW_PRESETS, window_to_uint8  # noqa: E402
from tests.support.browser import (  # noqa: E402
    canvas_sample,
    element,
    open_fresh,
    storage_sizes,
    text_of,
    wait_for,
    wait_text,
)

STEP = 8  # canvas sampling stride


@pytest.fixture(scope="module")
def ct_oracle(demo: Any) -> list[dict[str, Any]]:
    """The CT slices as pydicom reads the emulator's files, in geometric order (head first):
    ImagePositionPatient projected on the row × column normal, highest first."""
    slices = []
    for path in sorted((demo.workdir / "dicom").glob("*.dcm")):
        ds = pydicom.dcmread(path)
        if ds.Modality != "CT":
            continue
        orientation = np.array(ds.ImageOrientationPatient, dtype=float)
        normal = np.cross(orientation[:3], orientation[3:])
        hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) \
            + float(ds.RescaleIntercept)
        slices.append({"position": float(np.dot(np.array(ds.ImagePositionPatient, float),
                                                normal)),
                       "sop": str(ds.SOPInstanceUID), "hu": hu})
    slices.sort(key=lambda s: -s["position"])
    return slices


def expected_grey(hu: np.ndarray, center: float, width: float) -> np.ndarray:
    return window_to_uint8(hu, center, width)[::STEP, ::STEP].ravel().astype(int)


def assert_canvas_shows(sample: dict[str, Any], hu: np.ndarray, center: float,
                        width: float) -> None:
    assert (sample["height"], sample["width"]) == hu.shape
    shown = np.array(sample["values"], dtype=int)
    expected = expected_grey(hu, center, width)
    # Rounding of the same formula in float32 (page) and float64 (numpy): off by one at most.
    assert np.abs(shown - expected).max() <= 1
    assert np.unique(expected).size > 3  # the comparison is not between two blank images


def test_search_by_name_wildcard_finds_the_study(explorer, browser, screenshots: Path) -> None:
    open_fresh(browser, explorer.link())
    name = element(browser, "#search-PatientName")
    name.send_keys(explorer.study["patient_name"][:4].lower() + "*", Keys.ENTER)
    wait_for(browser, lambda d: "PatientName=" in d.current_url)
    rows = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#study-results tbody tr"))
    assert len(rows) == 1
    assert explorer.study["patient_id"] in rows[0].text
    assert "CT, SR" in rows[0].text
    assert text_of(browser, "#result-count") == "1–1 of 1"
    browser.save_screenshot(str(screenshots / "search.png"))
    # No match, and a date range that excludes the study (deep links, as bookmarked).
    for fragment in ("#/search?PatientName=NOBODY*", "#/search?from=2025-01-01&to=2025-12-31"):
        open_fresh(browser, explorer.link(fragment))
        wait_text(browser, ".empty", lambda text: "No study matches" in text)
    open_fresh(browser, explorer.link("#/search?from=2024-03-01&to=2024-03-31&Modality=SR"))
    wait_text(browser, "#result-count", lambda text: text == "1–1 of 1")


def test_study_shows_series_and_the_report_text(explorer, browser, screenshots: Path) -> None:
    open_fresh(browser, explorer.link("#/search"))
    link = element(browser, "#study-results a.study-link")
    link.send_keys(Keys.ENTER)  # keyboard: Enter opens
    wait_for(browser, lambda d: f"#/studies/{explorer.study['study']}" in d.current_url)
    element(browser, "#reports article.report")
    series_rows = browser.find_elements(By.CSS_SELECTOR, "#series-table tbody tr")
    counts = {row.get_attribute("data-series"): row.text for row in series_rows}
    assert set(counts) == {explorer.study["ct_series"], explorer.study["sr_series"]}
    assert " 24" in counts[explorer.study["ct_series"]]
    report = text_of(browser, "#reports")
    # Every TextValue (0040,A160) of the SR content tree, as the dump carries it.
    texts = [item["0040A160"]["Value"][0] for sr in explorer.study["sr"]
             for item in sr["0040A730"]["Value"] if "0040A160" in item]
    assert texts, "the example report has text items"
    for text in texts:
        assert text in report
    browser.save_screenshot(str(screenshots / "study.png"))


VISIBLE_ROWS = """
return [...document.querySelectorAll('#attribute-table tbody tr')]
  .filter((row) => row.offsetParent !== null)
  .map((row) => ({key: row.dataset.key, depth: row.dataset.depth, group: row.dataset.group,
                  text: row.innerText}));
"""


def visible_rows(browser) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """Rows on screen (one round trip: is_displayed() per row is slow)."""
    return browser.execute_script(VISIBLE_ROWS)


def test_instance_attributes_filter_by_group_and_text(explorer, browser,
                                                      screenshots: Path) -> None:
    ct = explorer.study["ct"][0]
    sop = ct["00080018"]["Value"][0]
    open_fresh(browser, explorer.link(
        f"#/studies/{explorer.study['study']}/series/{explorer.study['ct_series']}"
        f"/instances/{sop}"))
    element(browser, "#attribute-table tbody tr")
    top_level = [row for row in visible_rows(browser) if row["depth"] == "0"]
    assert len(top_level) == len(ct)
    assert text_of(browser, "#attribute-count") == f"{len(ct)} of {len(ct)} attributes"
    name_row = browser.find_element(By.CSS_SELECTOR, 'tr[data-key="00100010"]')
    assert "(0010,0010)" in name_row.text and "PatientName" in name_row.text
    assert pydicom.datadict.dictionary_description(0x00100010) in name_row.text

    browser.find_element(By.CSS_SELECTOR, 'button[data-group="patient"]').click()
    rows = visible_rows(browser)
    assert {row["group"] for row in rows} == {"0010"}
    assert len(rows) == sum(1 for key in ct if key.startswith("0010"))

    browser.find_element(By.CSS_SELECTOR, 'button[data-group="private"]').click()
    rows = visible_rows(browser)
    assert rows and all(int(row["group"], 16) % 2 for row in rows)
    # A private tag with its creator and the name pydicom's private dictionary gives it.
    creator = ct["00090010"]["Value"][0]
    private_name = pydicom.datadict.get_private_entry(0x00091001, creator)[2]
    private_row = browser.find_element(By.CSS_SELECTOR, 'tr[data-key="00091001"]')
    assert creator in private_row.text and private_name in private_row.text
    browser.save_screenshot(str(screenshots / "instance-private.png"))

    # Text filter inside a sequence: the item's attribute shows without a click.
    browser.find_element(By.CSS_SELECTOR, 'button[data-group="all"]').click()
    code = ct["00082218"]["Value"][0]["00080100"]["Value"][0]  # AnatomicRegionSequence code
    box = browser.find_element(By.ID, "attribute-filter")
    box.send_keys(code)
    rows = visible_rows(browser)
    assert [row["key"] for row in rows if row["depth"] == "0"] == ["00082218"]
    assert any(row["key"] == "00080100" and code in row["text"] for row in rows)
    assert "#/studies/" in browser.current_url and f"filter={code}" in browser.current_url

    # Sequences collapse and expand with their button.
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)  # typed, so that `input` fires (clear() does not)
    wait_text(browser, "#attribute-count", lambda text: text.startswith(f"{len(ct)} of"))
    sequence = browser.find_element(By.CSS_SELECTOR, 'tr[data-key="00081032"] button.toggle')
    def nested_shown() -> bool:
        return any(row["key"] == "00080104" and row["depth"] == "2"
                   for row in visible_rows(browser))

    assert not nested_shown()
    sequence.send_keys(Keys.ENTER)
    assert sequence.get_attribute("aria-expanded") == "true"
    assert nested_shown()


def test_viewer_windows_scrolls_and_reads_hu(explorer, browser, screenshots: Path,
                                             ct_oracle) -> None:
    base = f"#/studies/{explorer.study['study']}/series/{explorer.study['ct_series']}/viewer"
    open_fresh(browser, explorer.link(base + "?window=mediastinum"))
    wait_for(browser, lambda d: canvas_sample(d, 64)["slice"] == "1")
    first = ct_oracle[0]
    assert_canvas_shows(canvas_sample(browser, STEP), first["hu"], *WINDOW_PRESETS["mediastinum"])
    assert text_of(browser, "#slice-label") == f"Slice 1 / {len(ct_oracle)}"
    assert f"{first['position']:.2f} mm" in text_of(browser, "#position-label")
    spacing = text_of(browser, "#spacing-label")
    assert "Pixel 0.703 × 0.703 mm" in spacing and "512 × 512" in spacing
    gap = abs(ct_oracle[0]["position"] - ct_oracle[1]["position"])
    assert f"slice spacing {gap:.2f} mm" in spacing

    # Presets: the pixels follow the window the service itself knows by that name.
    before = canvas_sample(browser, STEP)["values"]
    for name, (center, width) in WINDOW_PRESETS.items():
        browser.find_element(By.ID, f"preset-{name}").click()
        sample = wait_for(browser, lambda d, w=f"{center},{width}":
                          (s := canvas_sample(d, STEP))["window"] == w and s)
        assert_canvas_shows(sample, first["hu"], center, width)
    browser.find_element(By.ID, "preset-lung").click()
    lung = wait_for(browser, lambda d: (s := canvas_sample(d, STEP))["window"] == "-600,1500"
                    and s)
    assert lung["values"] != before
    browser.save_screenshot(str(screenshots / "viewer-lung.png"))

    # Drag: right widens the window, down raises the level; no preset is lit any more.
    canvas = browser.find_element(By.ID, "slice-canvas")
    ActionChains(browser).move_to_element(canvas).click_and_hold().move_by_offset(60, 40) \
        .release().perform()
    center, width = map(int, canvas_sample(browser, 64)["window"].split(","))
    assert width > 1500 and center > -600
    assert canvas_sample(browser, STEP)["values"] != lung["values"]
    assert browser.find_element(By.ID, "preset-lung").get_attribute("aria-pressed") == "false"

    # HU under the pointer, checked against pydicom at the pixel the label names.
    ActionChains(browser).move_to_element_with_offset(canvas, 10, 25).perform()
    label = wait_text(browser, "#hu-label", lambda text: text.startswith("HU "))
    found = re.match(r"HU (-?\d+\.\d) at column (\d+), row (\d+)", label)
    assert found, label
    value, column, row = float(found[1]), int(found[2]), int(found[3])
    assert value == pytest.approx(first["hu"][row, column], abs=0.05)

    # Keyboard: next slice, ten more, the end and back; labels follow the geometry.
    canvas.send_keys(Keys.ARROW_DOWN)
    wait_for(browser, lambda d: canvas_sample(d, 64)["slice"] == "2")
    assert f"{ct_oracle[1]['position']:.2f} mm" in text_of(browser, "#position-label")
    center, width = map(int, canvas_sample(browser, 64)["window"].split(","))
    assert_canvas_shows(canvas_sample(browser, STEP), ct_oracle[1]["hu"], center, width)
    canvas.send_keys(Keys.PAGE_DOWN)
    wait_for(browser, lambda d: canvas_sample(d, 64)["slice"] == "12")
    assert text_of(browser, "#slice-label") == f"Slice 12 / {len(ct_oracle)}"
    assert f"{ct_oracle[11]['position']:.2f} mm" in text_of(browser, "#position-label")
    canvas.send_keys(Keys.END)
    wait_for(browser, lambda d: canvas_sample(d, 64)["slice"] == str(len(ct_oracle)))
    canvas.send_keys("1")  # key 1: lung preset
    wait_for(browser, lambda d: canvas_sample(d, 64)["window"] == "-600,1500")
    wait_text(browser, "#load-label", lambda text: text.startswith(
        f"{len(ct_oracle)} / {len(ct_oracle)} slices loaded"))
    browser.save_screenshot(str(screenshots / "viewer-last.png"))

    # The URL is a deep link to this slice and window.
    wait_for(browser, lambda d: f"slice={len(ct_oracle)}" in d.current_url
             and "window=lung" in d.current_url)
    open_fresh(browser, browser.current_url)
    wait_for(browser, lambda d: canvas_sample(d, 64)["slice"] == str(len(ct_oracle)))
    assert_canvas_shows(canvas_sample(browser, STEP), ct_oracle[-1]["hu"],
                        *WINDOW_PRESETS["lung"])


def test_nothing_in_web_storage_and_no_console_errors(explorer, browser) -> None:
    s = explorer.study
    browser.get_log("browser")  # drain what earlier tests left (401s of the auth tests)
    for fragment in ("#/search?PatientName=*", f"#/studies/{s['study']}",
                     f"#/studies/{s['study']}/series/{s['ct_series']}/viewer"):
        open_fresh(browser, explorer.link(fragment))
        element(browser, "#study-results, #reports, canvas[data-slice]")
        assert storage_sizes(browser) == (0, 0)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []  # CSP violations and script errors are logged as SEVERE
