"""Windowing against pydicom.pixels.apply_windowing (PS3.3 C.11.2.1.2.1)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom import Dataset
from pydicom.pixels import apply_windowing
from pydicom.sequence import Sequence

from service.pixels.decode import PixelDescription, decode_frames
from service.pixels.errors import WindowError
from service.pixels.hounsfield import modality_transform
from service.pixels.window import WINDOW_PRESETS, parse_window, window_to_uint8

RNG = np.random.default_rng(11)


def pydicom_uint8(hu: np.ndarray, center: float, width: float) -> np.ndarray:
    """pydicom's LINEAR window onto 0..255: an 8-bit unsigned dataset, no rescale."""
    ds = Dataset()
    ds.BitsStored, ds.PixelRepresentation = 8, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = center, width, "LINEAR"
    return np.rint(apply_windowing(hu.astype(np.float64), ds)).astype(np.uint8)


def hu_samples(center: float, width: float) -> np.ndarray:
    """Random HU plus the exact edges of the window, where off-by-half errors show."""
    edges = [center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2]
    edges += [edge + delta for edge in edges for delta in (-1, -0.5, 0.5, 1)]
    spread = RNG.uniform(center - width, center + width, size=4000)
    return np.concatenate([spread, edges, RNG.integers(-3000, 3000, size=1000)])


@pytest.mark.parametrize(("center", "width"), [
    *WINDOW_PRESETS.values(), (40.0, 1.0), (40.0, 2.0), (0.5, 255.0), (-1000.25, 333.3),
])
def test_linear_window_equals_pydicom(center, width):
    hu = hu_samples(center, width)
    np.testing.assert_array_equal(window_to_uint8(hu, center, width),
                                  pydicom_uint8(hu, center, width))


def test_monochrome1_is_inverted():
    hu = hu_samples(40, 400)
    normal = window_to_uint8(hu, 40, 400)
    inverted = window_to_uint8(hu, 40, 400, photometric_interpretation="MONOCHROME1")
    np.testing.assert_array_equal(inverted, 255 - normal)


def test_ct_slice_through_the_whole_stage(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("CT_small.dcm"))
    attrs = to_attrs(ds)
    stored = decode_frames(ds.PixelData, PixelDescription.from_attributes(attrs))
    hu = modality_transform(stored, attrs, [1])
    center, width = parse_window("mediastinum", attrs)
    expected = pydicom_uint8(pydicom.pixels.apply_modality_lut(ds.pixel_array, ds), center, width)
    np.testing.assert_array_equal(window_to_uint8(hu[0], center, width), expected)


@pytest.mark.parametrize(("spec", "expected"), [
    ("40,400", (40.0, 400.0)),
    (" -600 , 1500 ", (-600.0, 1500.0)),
    ("LUNG", WINDOW_PRESETS["lung"]),
    ("bone", WINDOW_PRESETS["bone"]),
])
def test_parse_window_specs(spec, expected):
    assert parse_window(spec, {}) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ("abc", "center,width"), ("1,2,3", "center,width"), ("40,x", "must be numbers"),
    ("40,0", "at least 1"), ("nan,400", "finite"), ("40,inf", "finite"),
])
def test_parse_window_rejects(spec, message):
    with pytest.raises(WindowError, match=message):
        parse_window(spec, {})


def test_instance_window_first_value(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("CT_small.dcm"))
    ds.WindowCenter, ds.WindowWidth = [40, 300], [400, 1500]
    assert parse_window(None, to_attrs(ds)) == (40.0, 400.0)


def test_frame_voi_lut_of_enhanced_objects(make_ct, to_attrs):
    ds = make_ct(np.zeros((2, 4, 4), np.int16), bits_allocated=16, bits_stored=12, signed=True)
    ds.WindowCenter, ds.WindowWidth = 1, 10
    frames = []
    for center in (-500, None):
        item = Dataset()
        if center is not None:
            voi = Dataset()
            voi.WindowCenter, voi.WindowWidth = center, 1200
            item.FrameVOILUTSequence = Sequence([voi])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    attrs = to_attrs(ds)
    assert parse_window(None, attrs, frame=1) == (-500.0, 1200.0)
    assert parse_window(None, attrs, frame=2) == (1.0, 10.0)  # falls back to top level


@pytest.mark.parametrize(("bits", "signed", "slope", "intercept"), [
    (12, True, 1.0, -1024.0), (12, False, 1.0, -1024.0), (16, True, 0.5, 0.0), (8, False, -1.0, 0),
])
def test_default_window_spans_every_representable_value(make_ct, to_attrs, bits, signed, slope,
                                                        intercept):
    ba = 8 if bits <= 8 else 16
    ds = make_ct(np.zeros((1, 2, 2), np.int16), bits_allocated=ba, bits_stored=bits,
                 signed=signed, slope=slope, intercept=intercept)
    attrs = to_attrs(ds)
    center, width = parse_window(None, attrs)
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    ends = sorted([low * slope + intercept, high * slope + intercept])
    shown = window_to_uint8(np.array(ends), center, width)
    assert shown.tolist() == [0, 255]
    assert window_to_uint8(np.array(ends), center, width).tolist() == pydicom_uint8(
        np.array(ends), center, width).tolist()
