"""Native pixel data: decode_frames against Dataset.pixel_array."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.pixels import pack_bits
from pydicom.uid import ExplicitVRBigEndian

from service.pixels.decode import decode_frame_codestreams, decode_frames
from service.pixels.description import PixelDescription
from service.pixels.errors import FrameRangeError, PixelDataError

RNG = np.random.default_rng(20240611)
# pydicom's RT Dose samples carry a malformed UID elsewhere in the dataset
BAD_UID = pytest.mark.filterwarnings("ignore:Invalid value for VR UI")


def reference(ds: pydicom.Dataset) -> np.ndarray:
    """pydicom's stored values, always shaped (frames, rows, columns[, samples])."""
    with warnings.catch_warnings():
        # pydicom warns about trailing padding that both of us ignore
        warnings.filterwarnings("ignore", message=".*excess padding.*")
        arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return arr.reshape((frames, *arr.shape[-3 if ds.SamplesPerPixel > 1 else -2:]))


def describe(ds: pydicom.Dataset, to_attrs) -> PixelDescription:
    desc = PixelDescription.from_attributes(to_attrs(ds))
    return dataclasses.replace(desc, pixel_data_vr=ds["PixelData"].VR)


def assert_same(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape
    # equal values; we always answer little endian where pydicom may keep '>'
    assert got.dtype == expected.dtype.newbyteorder("<")
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", [
    "CT_small.dcm",                      # 16-bit signed CT
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",            # Explicit VR Big Endian, 16-bit
    "MR_small_expb.dcm",
    "MR_small_padded.dcm",               # 128 bytes of trailing padding
    pytest.param("rtdose.dcm", marks=BAD_UID),       # 15 frames, 32-bit
    pytest.param("rtdose_expb.dcm", marks=BAD_UID),  # 15 frames, 32-bit big endian
    "SC_rgb_small_odd.dcm",              # RGB, odd length + pad byte
    "SC_rgb_small_odd_big_endian.dcm",   # 8-bit big endian as OW
    "ExplVR_BigEnd.dcm",                 # 8-bit big endian as OB (never swapped), planar
    "examples_rgb_color.dcm",
    "image_dfl.dcm",                     # Deflated Explicit VR Little Endian
    "SC_ybr_full_422_uncompressed.dcm",  # subsampled chroma
    "liver_1frame.dcm",
])
def test_pydicom_test_files(testdata, to_attrs, name):
    ds = pydicom.dcmread(testdata(name))
    got = decode_frames(ds.PixelData, describe(ds, to_attrs))
    assert_same(got, reference(ds))


@pytest.mark.parametrize(("bits_allocated", "bits_stored", "signed"), [
    (16, 12, True), (16, 12, False), (16, 16, True), (16, 16, False),
    (8, 8, False), (8, 7, True), (32, 20, True), (32, 32, False),
])
def test_generated_frames_with_garbage_above_high_bit(to_attrs, make_ct, bits_allocated,
                                                      bits_stored, signed):
    low, high = (-(2 ** (bits_stored - 1)), 2 ** (bits_stored - 1)) if signed else (
        0, 2**bits_stored)
    values = RNG.integers(low, high, size=(3, 7, 9), dtype=np.int64)
    unused = bits_allocated - bits_stored
    words = values & (2**bits_stored - 1)
    if unused:
        # Overlay-like junk in the unused high bits must not leak into values.
        words |= RNG.integers(0, 2**unused, size=values.shape) << bits_stored
    words = words.astype(f"<u{bits_allocated // 8}")
    ds = make_ct(words.view(f"<{'i' if signed else 'u'}{bits_allocated // 8}"),
                 bits_allocated=bits_allocated, bits_stored=bits_stored, signed=signed)
    got = decode_frames(ds.PixelData, describe(ds, to_attrs))
    assert_same(got, reference(ds))
    np.testing.assert_array_equal(got, values)


def test_frame_selection_keeps_the_order_asked(to_attrs, make_ct):
    values = RNG.integers(-2048, 2048, size=(4, 5, 6)).astype(np.int16)
    ds = make_ct(values, bits_allocated=16, bits_stored=12, signed=True)
    got = decode_frames(ds.PixelData, describe(ds, to_attrs), frames=[4, 2, 2])
    assert_same(got, reference(ds)[[3, 1, 1]])


def test_full_width_16_bit_is_a_view_on_the_payload(to_attrs, make_ct):
    values = RNG.integers(-1024, 3000, size=(1, 512, 512)).astype(np.int16)
    ds = make_ct(values, bits_allocated=16, bits_stored=16, signed=True)
    payload = ds.PixelData
    got = decode_frames(payload, describe(ds, to_attrs))
    assert np.shares_memory(got, np.frombuffer(payload, dtype=np.uint8))
    assert_same(got, reference(ds))


def test_high_bit_above_bits_stored(to_attrs, make_ct):
    # PS3.5 8.1.1 allows the stored bits anywhere in the word; pydicom only
    # handles HighBit = BitsStored - 1, so the generating values are the oracle.
    values = RNG.integers(-2048, 2048, size=(2, 4, 4))
    words = ((values & 0x0FFF) << 4 | RNG.integers(0, 16, size=values.shape)).astype("<u2")
    ds = make_ct(words.view("<i2"), bits_allocated=16, bits_stored=12, signed=True, HighBit=15)
    got = decode_frames(ds.PixelData, describe(ds, to_attrs))
    np.testing.assert_array_equal(got, values)


def test_one_bit_frames_not_byte_aligned(to_attrs, make_ct):
    bits = RNG.integers(0, 2, size=(3, 3, 3)).astype(np.uint8)  # 27 bits per 3 frames
    ds = make_ct(bits, bits_allocated=8, bits_stored=8, signed=False, slope=None,
                 intercept=None, PhotometricInterpretation="MONOCHROME2")
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 1, 0
    ds.PixelData = pack_bits(bits)
    desc = describe(ds, to_attrs)
    assert_same(decode_frames(ds.PixelData, desc), reference(ds))
    assert_same(decode_frames(ds.PixelData, desc, frames=[2]), reference(ds)[[1]])


def test_planar_rgb(to_attrs, make_ct):
    rgb = RNG.integers(0, 256, size=(2, 3, 4, 3)).astype(np.uint8)
    ds = make_ct(rgb[..., 0], bits_allocated=8, bits_stored=8, signed=False,
                 slope=None, intercept=None)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 1
    ds.PixelData = rgb.transpose(0, 3, 1, 2).tobytes()  # RRR…GGG…BBB… per frame
    got = decode_frames(ds.PixelData, describe(ds, to_attrs))
    assert_same(got, reference(ds))
    np.testing.assert_array_equal(got, rgb)


def test_big_endian_generated(to_attrs, make_ct):
    values = RNG.integers(-2048, 2048, size=(2, 5, 5)).astype(np.int16)
    ds = make_ct(values, bits_allocated=16, bits_stored=12, signed=True,
                 tsyntax=ExplicitVRBigEndian)
    ds.PixelData = values.astype(">i2").tobytes()
    got = decode_frames(ds.PixelData, describe(ds, to_attrs))
    assert got.dtype == np.dtype("<i2")
    np.testing.assert_array_equal(got, values)


def test_short_payload_says_expected_and_got(to_attrs, make_ct):
    ds = make_ct(np.zeros((2, 8, 8), np.int16), bits_allocated=16, bits_stored=12, signed=True)
    desc = describe(ds, to_attrs)
    with pytest.raises(PixelDataError, match="expected 256 bytes .* got 255"):
        decode_frames(ds.PixelData[:-1], desc)


def test_truncated_file(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("MR_truncated.dcm"))
    with pytest.raises(PixelDataError, match="expected 8192 bytes .* got 8130"):
        decode_frames(ds.PixelData, describe(ds, to_attrs))


def test_payload_with_room_for_an_extra_frame_is_refused(to_attrs, make_ct):
    ds = make_ct(np.zeros((2, 8, 8), np.int16), bits_allocated=16, bits_stored=12, signed=True)
    desc = dataclasses.replace(describe(ds, to_attrs), number_of_frames=1)
    with pytest.raises(PixelDataError, match="expected 128 bytes .* got 256"):
        decode_frames(ds.PixelData, desc)


def test_odd_length_pad_byte_accepted(to_attrs, make_ct):
    values = RNG.integers(0, 256, size=(1, 3, 3)).astype(np.uint8)
    ds = make_ct(values, bits_allocated=8, bits_stored=8, signed=False)
    got = decode_frames(ds.PixelData + b"\x00", describe(ds, to_attrs))
    np.testing.assert_array_equal(got, values)


def test_frame_out_of_range(to_attrs, make_ct):
    ds = make_ct(np.zeros((2, 4, 4), np.int16), bits_allocated=16, bits_stored=12, signed=True)
    with pytest.raises(FrameRangeError, match="frame 3 is outside 1..2"):
        decode_frames(ds.PixelData, describe(ds, to_attrs), frames=[3])


def test_individually_fetched_native_frames(to_attrs, make_ct):
    values = RNG.integers(-2048, 2048, size=(3, 6, 5)).astype(np.int16)
    ds = make_ct(values, bits_allocated=16, bits_stored=12, signed=True)
    desc = describe(ds, to_attrs)
    parts = [values[i].tobytes() for i in (2, 0)]
    got = decode_frame_codestreams(parts, desc, frame_numbers=[3, 1])
    assert_same(got, reference(ds)[[2, 0]])
    with pytest.raises(PixelDataError, match="frame 1: .*expected 60 bytes"):
        decode_frame_codestreams([parts[0][:-2]], desc, frame_numbers=[1])
