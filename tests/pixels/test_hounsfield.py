"""Rescale / Modality LUT / HU conversion against pydicom.pixels.apply_modality_lut."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom import Dataset
from pydicom.pixels import apply_modality_lut as pydicom_modality_lut
from pydicom.sequence import Sequence

from service.pixels.decode import PixelDescription, decode_frames
from service.pixels.errors import DtypeError, FrameRangeError, PixelDataError
from service.pixels.hounsfield import modality_transform, to_hu
from service.pixels.modality import Rescale, apply_modality_lut, modality_lut, rescale_for_frame

RNG = np.random.default_rng(7)


def decoded(ds: Dataset, to_attrs) -> tuple[np.ndarray, dict]:
    attrs = to_attrs(ds)
    return decode_frames(ds.PixelData, PixelDescription.from_attributes(attrs)), attrs


@pytest.mark.parametrize("name", ["CT_small.dcm", "JPEG2000.dcm", "MR_small.dcm",
                                  "MR_small_jpeg_ls_lossless.dcm"])
def test_hu_of_test_files_equals_pydicom(testdata, to_attrs, name):
    ds = pydicom.dcmread(testdata(name))
    stored, attrs = decoded(ds, to_attrs)
    expected = pydicom_modality_lut(ds.pixel_array, ds)
    rescale = rescale_for_frame(attrs, 1)
    np.testing.assert_array_equal(to_hu(stored[0], rescale, "float64"), expected)
    got32 = to_hu(stored[0], rescale)
    assert got32.dtype == np.float32
    np.testing.assert_array_equal(got32, np.asarray(expected, dtype=np.float64).astype(np.float32))


@pytest.mark.parametrize(("slope", "intercept"), [
    (1.0, -1024.0), (1.0, -1024.5), (0.73, -1024.0), (2.5, 17.25), (-1.0, 0.0),
])
def test_generated_rescales(to_attrs, make_ct, slope, intercept):
    values = RNG.integers(-2048, 2048, size=(1, 16, 16)).astype(np.int16)
    ds = make_ct(values, bits_allocated=16, bits_stored=12, signed=True, slope=slope,
                 intercept=intercept)
    stored, attrs = decoded(ds, to_attrs)
    rescale = rescale_for_frame(attrs, 1)
    assert (rescale.slope, rescale.intercept, rescale.source) == (slope, intercept, "top-level")
    expected = pydicom_modality_lut(ds.pixel_array, ds)
    np.testing.assert_array_equal(to_hu(stored[0], rescale, "float64"), expected)
    np.testing.assert_array_equal(to_hu(stored[0], rescale), expected.astype(np.float32))


def _pvt(slope: float, intercept: float) -> Sequence:
    item = Dataset()
    item.RescaleSlope, item.RescaleIntercept, item.RescaleType = slope, intercept, "HU"
    return Sequence([item])


@pytest.fixture
def enhanced_ct(make_ct) -> Dataset:
    """Three frames: own rescale for 1 and 3, the shared one for 2."""
    values = RNG.integers(-2048, 2048, size=(3, 8, 8)).astype(np.int16)
    ds = make_ct(values, bits_allocated=16, bits_stored=12, signed=True, slope=None,
                 intercept=None, SOPClassUID="1.2.840.10008.5.1.4.1.1.2.1")
    shared = Dataset()
    shared.PixelValueTransformationSequence = _pvt(1.0, -1000.0)
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for rescale in [(2.0, -1024.0), None, (0.5, 10.5)]:
        item = Dataset()
        if rescale:
            item.PixelValueTransformationSequence = _pvt(*rescale)
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    return ds


def test_per_frame_rescale_of_enhanced_ct(enhanced_ct, to_attrs):
    stored, attrs = decoded(enhanced_ct, to_attrs)
    sources = [rescale_for_frame(attrs, frame).source for frame in (1, 2, 3)]
    assert sources == ["per-frame", "shared", "per-frame"]
    got = modality_transform(stored, attrs, [1, 2, 3], "float64")
    for frame in (1, 2, 3):
        # Oracle: pydicom on a single-frame dataset carrying that frame's rescale.
        groups = enhanced_ct.PerFrameFunctionalGroupsSequence[frame - 1]
        pvt = groups.get("PixelValueTransformationSequence") or (
            enhanced_ct.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence)
        single = Dataset()
        single.RescaleSlope, single.RescaleIntercept = pvt[0].RescaleSlope, pvt[0].RescaleIntercept
        expected = pydicom_modality_lut(enhanced_ct.pixel_array[frame - 1], single)
        np.testing.assert_array_equal(got[frame - 1], expected)
    # A subset in another order gets each frame's own rescale too.
    subset = modality_transform(stored[[2, 0]], attrs, [3, 1], "float64")
    np.testing.assert_array_equal(subset, got[[2, 0]])


def test_rescale_fallbacks(enhanced_ct, to_attrs):
    attrs = to_attrs(enhanced_ct)
    del attrs["PerFrameFunctionalGroupsSequence"]
    assert rescale_for_frame(attrs, 3) == Rescale(1.0, -1000.0, "shared")
    del attrs["SharedFunctionalGroupsSequence"]
    assert rescale_for_frame(attrs, 3) == Rescale(1.0, 0.0, "default")
    attrs["RescaleIntercept"] = -1024.0
    assert rescale_for_frame(attrs, 3) == Rescale(1.0, -1024.0, "top-level")


def test_per_frame_sequence_shorter_than_frames(enhanced_ct, to_attrs):
    attrs = to_attrs(enhanced_ct)
    with pytest.raises(PixelDataError, match="no item for frame 4"):
        rescale_for_frame(attrs, 4)
    with pytest.raises(FrameRangeError):
        rescale_for_frame(attrs, 0)


def test_int16_when_provably_exact(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("CT_small.dcm"))
    stored, attrs = decoded(ds, to_attrs)
    got = to_hu(stored, rescale_for_frame(attrs, 1), "int16")
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got[0], pydicom_modality_lut(ds.pixel_array, ds))


@pytest.mark.parametrize(("stored", "rescale", "message"), [
    (np.array([0, 100], np.int16), Rescale(0.5, -1024.0, "top-level"), "integral"),
    (np.array([0, 100], np.int16), Rescale(1.0, -1024.5, "top-level"), "integral"),
    (np.array([0, 32767], np.int16), Rescale(1.0, 1024.0, "top-level"), "outside int16"),
    (np.array([0, 40000], np.uint16), Rescale(1.0, -1024.0, "top-level"), "outside int16"),
    (np.array([-20000, 0], np.int16), Rescale(2.0, 0.0, "top-level"), "outside int16"),
])
def test_int16_refused_rather_than_cast(stored, rescale, message):
    with pytest.raises(DtypeError, match=message):
        to_hu(stored, rescale, "int16")
    as_float = to_hu(stored, rescale)  # the float answer exists and is exact
    np.testing.assert_array_equal(as_float, stored.astype(np.float64) * rescale.slope
                                  + rescale.intercept)


def test_unknown_dtype_refused():
    with pytest.raises(DtypeError, match="dtype must be one of"):
        to_hu(np.zeros(2, np.int16), Rescale(1.0, 0.0, "default"), "uint8")


def _lut_dataset(make_ct, *, signed: bool, first: int, vr: str) -> Dataset:
    low, high = (-2048, 2048) if signed else (0, 4096)
    values = RNG.integers(low, high, size=(1, 16, 16))
    ds = make_ct(values, bits_allocated=16, bits_stored=12, signed=signed, slope=None,
                 intercept=None)
    entries = RNG.integers(0, 2**16, size=300).astype(np.uint16)
    item = Dataset()
    item.LUTDescriptor = [len(entries), first, 16]
    item["LUTDescriptor"].VR = "SS" if signed else "US"
    item.ModalityLUTType = "HU"
    if vr == "OW":
        item.LUTData = entries.astype("<u2").tobytes()
    else:
        item.LUTData = [int(v) for v in entries]
    item["LUTData"].VR = vr
    ds.ModalityLUTSequence = Sequence([item])
    return ds


@pytest.mark.parametrize(("signed", "first", "vr"), [
    (False, 100, "US"), (False, 0, "OW"), (True, -100, "US"), (True, -2048, "OW"),
])
def test_modality_lut_equals_pydicom(make_ct, to_attrs, signed, first, vr):
    ds = _lut_dataset(make_ct, signed=signed, first=first, vr=vr)
    stored, attrs = decoded(ds, to_attrs)
    lut = modality_lut(attrs)
    assert lut is not None and lut.first_mapped == first and lut.lut_type == "HU"
    expected = pydicom_modality_lut(ds.pixel_array, ds)
    np.testing.assert_array_equal(apply_modality_lut(stored[0], lut), expected)
    got = modality_transform(stored, attrs, [1], "float32")
    np.testing.assert_array_equal(got[0], expected.astype(np.float32))


def test_signed_lut_start_read_as_unsigned(make_ct, to_attrs):
    ds = _lut_dataset(make_ct, signed=True, first=-100, vr="US")
    attrs = to_attrs(ds)
    attrs["ModalityLUTSequence"][0]["LUTDescriptor"][1] = 2**16 - 100  # SS read as US
    assert modality_lut(attrs).first_mapped == -100


def test_modality_lut_faults(make_ct, to_attrs):
    attrs = to_attrs(_lut_dataset(make_ct, signed=False, first=0, vr="OW"))
    item = attrs["ModalityLUTSequence"][0]
    item["LUTData"] = {"BulkDataURI": "https://example.invalid/lut"}
    with pytest.raises(PixelDataError, match="LUTData is behind a BulkDataURI"):
        modality_lut(attrs)
    item["LUTData"] = [1, 2, 3]
    with pytest.raises(PixelDataError, match="LUTData has 3 entries, LUTDescriptor says 300"):
        modality_lut(attrs)
    item["LUTDescriptor"] = [300, 0]
    with pytest.raises(PixelDataError, match="LUTDescriptor must have 3 values"):
        modality_lut(attrs)


def test_int16_refused_for_lut_beyond_int16(make_ct, to_attrs):
    ds = _lut_dataset(make_ct, signed=False, first=0, vr="US")
    ds.ModalityLUTSequence[0].LUTData = [65535] * 300
    stored, attrs = decoded(ds, to_attrs)
    with pytest.raises(DtypeError, match="outside int16"):
        modality_transform(stored, attrs, [1], "int16")
