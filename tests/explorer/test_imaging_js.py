"""The viewer's pure functions (js/imaging.js) run in Chromium on tricky inputs and compared
with numpy and the service's own windowing: slice order from geometry, the VOI function,
pixel → patient coordinates."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from service.pixels.window import window_to_uint8

pytest.importorskip("selenium", reason="Selenium drives the browser: pip install selenium")

from tests.support.browser import element, open_fresh  # noqa: E402

CALL = """
const [name, args, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
import('/explorer/js/imaging.js').then((module) => {
  if (name === 'applyWindow') {
    const rgba = new Uint8ClampedArray(args[0].length * 4);
    module.applyWindow(Float32Array.from(args[0]), args[1], args[2], rgba, args[3]);
    done(Array.from(rgba.filter((_, i) => i % 4 === 0)));
  } else {
    done(module[name](...args));
  }
}, (error) => done({error: String(error)}));
"""


@pytest.fixture(scope="module")
def page(explorer, browser):  # type: ignore[no-untyped-def]
    open_fresh(browser, explorer.link("#/search"))
    element(browser, "h1")

    def call(name: str, *args: Any) -> Any:
        return browser.execute_async_script(CALL, name, list(args))

    return call


def tilted_series(count: int, seed: int) -> list[dict[str, Any]]:
    """An oblique series with shuffled InstanceNumbers, a scout and an instance without
    geometry."""
    rng = np.random.default_rng(seed)
    row = np.array([np.cos(0.3), np.sin(0.3), 0.0])
    column = np.array([-np.sin(0.3) * np.cos(0.5), np.cos(0.3) * np.cos(0.5), -np.sin(0.5)])
    normal = np.cross(row, column)
    origin = np.array([-120.0, -80.0, 30.0])
    numbers = rng.permutation(count) + 1
    items = [{"SOPInstanceUID": f"1.2.{i}", "InstanceNumber": int(numbers[i]),
              "ImageOrientationPatient": [*row.tolist(), *column.tolist()],
              "ImagePositionPatient": (origin + normal * 2.5 * i
                                       + row * rng.normal()).tolist()}
             for i in range(count)]
    items.append({"SOPInstanceUID": "9.9.bare", "InstanceNumber": 0})
    shuffled = [items[i] for i in rng.permutation(len(items))]
    # The scout comes first, so "the first instance's orientation" would be the wrong one.
    scout = {"SOPInstanceUID": "9.9.scout", "InstanceNumber": 1,
             "ImageOrientationPatient": [1, 0, 0, 0, 0, -1], "ImagePositionPatient": [0, 0, 0]}
    return [scout, *shuffled]


def test_geometric_order_follows_the_normal_not_instance_numbers(page) -> None:
    items = tilted_series(12, seed=5)
    answer = page("geometricOrder", items)
    ordered = [slice_["instance"]["SOPInstanceUID"] for slice_ in answer["slices"]]
    placed = [item for item in items if item["SOPInstanceUID"].startswith("1.2.")]
    orientation = np.array(placed[0]["ImageOrientationPatient"])
    normal = np.cross(orientation[:3], orientation[3:])
    expected = sorted(placed, key=lambda item: -float(np.dot(item["ImagePositionPatient"],
                                                             normal)))
    assert ordered[:12] == [item["SOPInstanceUID"] for item in expected]
    # Another orientation (a scout) and no geometry follow, by InstanceNumber.
    assert ordered[12:] == ["9.9.bare", "9.9.scout"]
    positions = [slice_["position"] for slice_ in answer["slices"][:12]]
    assert positions == pytest.approx(
        [float(np.dot(item["ImagePositionPatient"], normal)) for item in expected])
    assert page("sliceSpacing", answer["slices"]) == pytest.approx(2.5)


@pytest.mark.parametrize("center, width", [(-600, 1500), (40, 80), (0, 1), (0, 2),
                                           (10.5, 3), (1000, 4096)])
def test_window_matches_the_services_voi_function(page, center: float, width: float) -> None:
    values = np.concatenate([np.linspace(-1100, 3100, 401),
                             [center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2,
                              center - 0.5, center, center + 0.5]]).astype(np.float32)
    shown = np.array(page("applyWindow", values.tolist(), center, width, False))
    expected = window_to_uint8(values.astype(np.float64), center, width).astype(int)
    assert np.abs(shown - expected).max() <= 1
    inverted = np.array(page("applyWindow", values.tolist(), center, width, True))
    monochrome1 = window_to_uint8(values.astype(np.float64), center, width,
                                  photometric_interpretation="MONOCHROME1").astype(int)
    assert np.abs(inverted - monochrome1).max() <= 1


def test_patient_point_of_a_pixel(page) -> None:
    position = [-179.6484, -150.0, -40.0]
    orientation = [0.9, 0.1, 0.0, -0.1, 0.9, 0.2]
    spacing = [0.7, 0.8]  # row spacing (between rows), column spacing (between columns)
    column, row = 13, 7
    expected = (np.array(position) + np.array(orientation[:3]) * spacing[1] * column
                + np.array(orientation[3:]) * spacing[0] * row)
    assert page("patientPoint", position, orientation, spacing, column, row) \
        == pytest.approx(expected.tolist())
