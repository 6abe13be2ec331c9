"""Every representation of the pixel endpoint against pydicom reading the same files."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from PIL import Image

from service.pixels.window import WINDOW_PRESETS, window_to_uint8

CT_SLICES = ["ct1", "ct2", "ct3", "ct4"]


def _numbers(header: str) -> list[float]:
    return [float(value) for value in header.split(",")]


@pytest.mark.parametrize("role", CT_SLICES)
def test_npy_equals_pydicom_hu(client, corpus, oracle, role):
    ds = corpus.dataset(role)
    response = client.get(corpus.url(role))
    assert response.status_code == 200, response.json
    assert response.mimetype == "application/x-npy"
    values = np.load(io.BytesIO(response.data))
    expected = oracle(ds).astype(np.float32)
    assert values.dtype == np.float32
    assert values.shape == (ds.Rows, ds.Columns)
    np.testing.assert_array_equal(values, expected)
    assert _numbers(response.headers["X-Rescale-Slope"]) == [float(ds.RescaleSlope)]
    assert _numbers(response.headers["X-Rescale-Intercept"]) == [float(ds.RescaleIntercept)]
    assert _numbers(response.headers["X-Pixel-Spacing"]) == [float(v) for v in ds.PixelSpacing]
    assert _numbers(response.headers["X-Image-Position"]) == [
        float(v) for v in ds.ImagePositionPatient]
    assert _numbers(response.headers["X-Image-Orientation"]) == [
        float(v) for v in ds.ImageOrientationPatient]


@pytest.mark.parametrize("role", CT_SLICES)
def test_raw_round_trips_with_shape_and_dtype_headers(client, corpus, oracle, role):
    ds = corpus.dataset(role)
    response = client.get(corpus.url(role), headers={"Accept": "application/octet-stream"})
    assert response.status_code == 200
    assert response.mimetype == "application/octet-stream"
    shape = tuple(int(v) for v in response.headers["X-Shape"].split(","))
    values = np.frombuffer(response.data, dtype=np.dtype(response.headers["X-Dtype"]))
    np.testing.assert_array_equal(values.reshape(shape), oracle(ds).astype(np.float32))


def test_json_of_a_small_image(client, corpus, oracle):
    ds = corpus.dataset("ct2")
    response = client.get(corpus.url("ct2", format="json"))
    assert response.status_code == 200 and response.mimetype == "application/json"
    np.testing.assert_array_equal(np.array(response.json, dtype=np.float32),
                                  oracle(ds).astype(np.float32))


def test_json_refuses_a_big_image(client, corpus, emulator):
    response = client.get(corpus.url("j2k", format="json"))  # 1024 × 256 values
    assert response.status_code == 406
    assert response.json["parameter"] == "format"
    assert "262144" in response.json["detail"]


@pytest.mark.parametrize("window", [None, "lung", "bone", "-500,1200"])
def test_png_is_the_windowed_pydicom_hu(client, corpus, oracle, window):
    ds = corpus.dataset("ct3")
    query = {"format": "png"} if window is None else {"format": "png", "window": window}
    response = client.get(corpus.url("ct3", **query))
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = np.array(Image.open(io.BytesIO(response.data)))
    if window is None:  # the instance's own WindowCenter/WindowWidth, read by pydicom
        center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    elif window in WINDOW_PRESETS:
        center, width = WINDOW_PRESETS[window]
    else:
        center, width = (float(v) for v in window.split(","))
    assert image.dtype == np.uint8 and image.shape == (ds.Rows, ds.Columns)
    np.testing.assert_array_equal(image, window_to_uint8(oracle(ds), center, width))
    assert _numbers(response.headers["X-Window"]) == [center, width]


def test_png_by_accept_header(client, corpus):
    response = client.get(corpus.url("ct1"), headers={"Accept": "image/png"})
    assert response.status_code == 200 and response.mimetype == "image/png"


@pytest.mark.parametrize("window", ["wide", "40", "40,0", "a,b"])
def test_bad_window_is_400_naming_window(client, corpus, window):
    response = client.get(corpus.url("ct1", format="png", window=window))
    assert response.status_code == 400
    assert response.json["parameter"] == "window"


def test_int16_for_integral_rescale(client, corpus, oracle):
    ds = corpus.dataset("ct1")
    response = client.get(corpus.url("ct1", dtype="int16"))
    assert response.status_code == 200
    values = np.load(io.BytesIO(response.data))
    assert values.dtype == np.int16
    np.testing.assert_array_equal(values, oracle(ds).astype(np.int16))
    assert np.array_equal(values.astype(np.float64), oracle(ds))


def test_int16_refused_for_fractional_slope(client, corpus, oracle):
    ds = corpus.dataset("half")
    assert float(ds.RescaleSlope) == 0.5
    refused = client.get(corpus.url("half", dtype="int16"))
    assert refused.status_code == 422
    assert refused.json["parameter"] == "dtype"
    response = client.get(corpus.url("half"))
    assert response.status_code == 200
    np.testing.assert_array_equal(np.load(io.BytesIO(response.data)),
                                  oracle(ds).astype(np.float32))
    assert float(response.headers["X-Rescale-Slope"]) == 0.5
    assert float(response.headers["X-Rescale-Intercept"]) == float(ds.RescaleIntercept)


@pytest.mark.parametrize("role", ["rle", "j2k"])
def test_compressed_instances_equal_pydicom(client, corpus, oracle, role):
    ds = corpus.dataset(role)
    assert ds.file_meta.TransferSyntaxUID.is_compressed
    response = client.get(corpus.url(role))
    assert response.status_code == 200, response.json
    np.testing.assert_array_equal(np.load(io.BytesIO(response.data)),
                                  oracle(ds).astype(np.float32))


def test_compressed_instance_transcoded_upstream(make_app, adc_env, corpus, oracle, emulator,
                                                 upstream_log):
    client = make_app(transcode_upstream=True).test_client()
    ds = corpus.dataset("rle")
    response = client.get(corpus.url("rle"))
    assert response.status_code == 200, response.json
    np.testing.assert_array_equal(np.load(io.BytesIO(response.data)),
                                  oracle(ds).astype(np.float32))
    assert all("/frames/" in path for path in upstream_log(emulator, ds.SOPInstanceUID))


def _frame_oracle(ds: pydicom.Dataset, frame: int) -> np.ndarray:
    transform = ds.PerFrameFunctionalGroupsSequence[frame - 1] \
        .PixelValueTransformationSequence[0]
    return (ds.pixel_array[frame - 1].astype(np.float64) * float(transform.RescaleSlope)
            + float(transform.RescaleIntercept))


def test_multiframe_one_frame_uses_its_own_rescale_and_position(client, corpus):
    ds = corpus.dataset("enhanced")
    response = client.get(corpus.url("enhanced", frame="2"))
    assert response.status_code == 200, response.json
    np.testing.assert_array_equal(np.load(io.BytesIO(response.data)),
                                  _frame_oracle(ds, 2).astype(np.float32))
    transform = ds.PerFrameFunctionalGroupsSequence[1].PixelValueTransformationSequence[0]
    assert float(response.headers["X-Rescale-Slope"]) == float(transform.RescaleSlope)
    assert float(response.headers["X-Rescale-Intercept"]) == float(transform.RescaleIntercept)
    position = ds.PerFrameFunctionalGroupsSequence[1].PlanePositionSequence[0]
    assert _numbers(response.headers["X-Image-Position"]) == [
        float(v) for v in position.ImagePositionPatient]
    shared = ds.SharedFunctionalGroupsSequence[0]
    assert _numbers(response.headers["X-Pixel-Spacing"]) == [
        float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]


def test_multiframe_all_frames(client, corpus):
    ds = corpus.dataset("enhanced")
    response = client.get(corpus.url("enhanced", frame="all", format="raw"))
    assert response.status_code == 200, response.json
    assert response.headers["X-Shape"] == f"{ds.NumberOfFrames},{ds.Rows},{ds.Columns}"
    values = np.frombuffer(response.data, dtype=response.headers["X-Dtype"]).reshape(
        int(ds.NumberOfFrames), ds.Rows, ds.Columns)
    for frame in range(1, int(ds.NumberOfFrames) + 1):
        np.testing.assert_array_equal(values[frame - 1], _frame_oracle(ds, frame)
                                      .astype(np.float32))
    slopes = [float(item.PixelValueTransformationSequence[0].RescaleSlope)
              for item in ds.PerFrameFunctionalGroupsSequence]
    assert _numbers(response.headers["X-Rescale-Slope"]) == slopes
    assert response.headers["X-Frames"] == "1,2,3"


def test_frame_out_of_range_is_404_naming_frame_and_fetches_nothing(client, corpus, emulator):
    response = client.get(corpus.url("enhanced", frame="4"))
    assert response.status_code == 404
    assert response.json["parameter"] == "frame"
    assert "frame 4" in response.json["detail"]
    assert emulator.requests == []


@pytest.mark.parametrize("query, name", [({"frame": "0"}, "frame"), ({"frame": "x"}, "frame"),
                                         ({"format": "tiff"}, "format"),
                                         ({"dtype": "uint8"}, "dtype"), ({"size": "1"}, "size")])
def test_bad_parameters_are_400_naming_them(client, corpus, query, name):
    response = client.get(corpus.url("ct1", **query))
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json["parameter"] == name


def test_unknown_accept_is_406(client, corpus, emulator):
    response = client.get(corpus.url("ct1"), headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert response.mimetype == "application/problem+json"
    assert emulator.requests == []


def test_format_wins_over_accept(client, corpus):
    response = client.get(corpus.url("ct1", format="raw"), headers={"Accept": "image/png"})
    assert response.status_code == 200 and response.mimetype == "application/octet-stream"


def test_png_of_all_frames_is_refused(client, corpus):
    response = client.get(corpus.url("enhanced", frame="all", format="png"))
    assert response.status_code == 406 and response.json["parameter"] == "frame"
