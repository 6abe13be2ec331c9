"""Encoders: what numpy and Pillow read back is what went in."""

from __future__ import annotations

import io
import json

import numpy as np
import pydicom
import pytest
from PIL import Image

from service.pixels.decode import PixelDescription, decode_frames
from service.pixels.encode import (
    npy_header,
    stream_npy,
    to_json_lists,
    to_npy,
    to_png,
    to_raw,
)
from service.pixels.errors import EncodeError
from service.pixels.hounsfield import modality_transform
from service.pixels.window import window_to_uint8

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("dtype", ["<f4", "<f8", "<i2", ">i2", "|u1", "<u2"])
def test_npy_round_trip(dtype):
    array = RNG.integers(-1000, 1000, size=(2, 3, 5)).astype(dtype)
    loaded = np.load(io.BytesIO(to_npy(array)), allow_pickle=False)
    assert loaded.shape == array.shape and loaded.dtype == array.dtype.newbyteorder("<")
    np.testing.assert_array_equal(loaded, array)


def test_npy_of_a_non_contiguous_view():
    array = np.arange(60, dtype=np.int16).reshape(3, 4, 5).transpose(2, 0, 1)
    np.testing.assert_array_equal(np.load(io.BytesIO(to_npy(array))), array)


def test_streamed_volume_equals_whole_file(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("CT_small.dcm"))
    attrs = to_attrs(ds)
    stored = decode_frames(ds.PixelData, PixelDescription.from_attributes(attrs))
    slices = [modality_transform(stored, attrs, [1])[0] + offset for offset in (0, 1, 2)]
    volume = np.stack(slices)
    chunks = list(stream_npy(volume.shape, volume.dtype, iter(slices)))
    assert len(chunks) == 4
    assert chunks[0] == npy_header(volume.shape, volume.dtype)
    loaded = np.load(io.BytesIO(b"".join(chunks)))
    np.testing.assert_array_equal(loaded, volume)
    assert loaded.dtype == np.float32


def test_npy_header_is_aligned_and_readable():
    header = npy_header((300, 512, 512), "<f4")
    assert len(header) % 64 == 0  # numpy's alignment of the data start
    stream = io.BytesIO(header)
    assert np.lib.format.read_magic(stream) == (1, 0)
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    assert (shape, fortran, dtype) == ((300, 512, 512), False, np.dtype("<f4"))


@pytest.mark.parametrize(("slices", "message"), [
    ([np.zeros((2, 2), np.float32)], "1 slices written, header announced 2"),
    ([np.zeros((2, 2), np.float32)] * 3, "more than the 2 slices"),
    ([np.zeros((2, 3), np.float32)] * 2, "slice 0 is"),
    ([np.zeros((2, 2), np.float64)] * 2, "slice 0 is"),
])
def test_stream_npy_refuses_broken_promises(slices, message):
    with pytest.raises(EncodeError, match=message):
        list(stream_npy((2, 2, 2), "<f4", iter(slices)))


def test_raw_is_little_endian_with_shape_and_dtype():
    array = RNG.integers(-1000, 1000, size=(2, 3, 4)).astype(">i2")
    raw = to_raw(array)
    assert raw.shape == "2,3,4" and raw.dtype == "<i2"
    back = np.frombuffer(raw.body, dtype=np.dtype(raw.dtype)).reshape(
        [int(size) for size in raw.shape.split(",")])
    np.testing.assert_array_equal(back, array)


def test_json_lists_round_trip_and_limit():
    array = RNG.uniform(-1024, 3000, size=(2, 3)).astype(np.float32)
    lists = to_json_lists(array, max_elements=6)
    np.testing.assert_array_equal(np.asarray(json.loads(json.dumps(lists)), np.float32), array)
    with pytest.raises(EncodeError, match="6 values exceed the JSON limit of 5"):
        to_json_lists(array, max_elements=5)
    with pytest.raises(EncodeError, match="NaN"):
        to_json_lists(np.array([np.nan], np.float32), max_elements=5)


@pytest.mark.parametrize("shape", [(7, 5), (7, 5, 3), (7, 5, 1)])
def test_png_round_trip(shape):
    image = RNG.integers(0, 256, size=shape).astype(np.uint8)
    with Image.open(io.BytesIO(to_png(image))) as png:
        assert png.format == "PNG"
        assert png.mode == ("RGB" if shape[-1] == 3 and len(shape) == 3 else "L")
        np.testing.assert_array_equal(np.asarray(png), image.reshape(png.size[1], png.size[0],
                                                                     -1).squeeze())


def test_png_of_a_windowed_ct_slice(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("CT_small.dcm"))
    attrs = to_attrs(ds)
    stored = decode_frames(ds.PixelData, PixelDescription.from_attributes(attrs))
    shown = window_to_uint8(modality_transform(stored, attrs, [1])[0], 40, 400)
    with Image.open(io.BytesIO(to_png(shown))) as png:
        np.testing.assert_array_equal(np.asarray(png), shown)


@pytest.mark.parametrize("image", [np.zeros((4, 4), np.int16), np.zeros((4, 4, 4), np.uint8),
                                   np.zeros(4, np.uint8)])
def test_png_refuses_what_it_cannot_show(image):
    with pytest.raises(EncodeError):
        to_png(image)
