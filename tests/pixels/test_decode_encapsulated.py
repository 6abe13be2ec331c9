"""Compressed pixel data: decode_frames / decode_frame_codestreams against pydicom."""

from __future__ import annotations

import dataclasses

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate, generate_frames

from service.pixels.decode import decode_frame_codestreams, decode_frames
from service.pixels.description import PixelDescription
from service.pixels.errors import PixelDataError

BAD_UID = pytest.mark.filterwarnings("ignore:Invalid value for VR UI")

COMPRESSED = [
    "JPEG2000.dcm",                      # J2K lossy, 16-bit signed CT
    "693_J2KI.dcm",
    "MR_small_jp2klossless.dcm",
    "J2K_pixelrep_mismatch.dcm",         # codestream signedness ≠ PixelRepresentation
    "GDCMJ2K_TextGBR.dcm",
    "SC_rgb_gdcm_KY.dcm",
    "examples_jpeg2k.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",             # JPEG baseline YBR_FULL_422 → RGB
    "SC_rgb_jpeg_lossy_gdcm.dcm",
    "SC_rgb_small_odd_jpeg.dcm",
    "SC_jpeg_no_color_transform.dcm",
    "SC_rgb_dcmtk_+eb+cy+s4.dcm",
    "examples_ybr_color.dcm",
    "JPGExtended.dcm",                   # JPEG extended 12-bit
    "SC_rgb_jpeg_gdcm.dcm",              # JPEG lossless SV1
    "MR_small_jpeg_ls_lossless.dcm",     # JPEG-LS, signed
    "JPEGLSNearLossless_16.dcm",
    "SC_rgb_jls_lossy_sample.dcm",
    "MR_small_RLE.dcm",
    "SC_rgb_rle_2frame.dcm",             # multi-frame RLE RGB
    "SC_rgb_rle_16bit_2frame.dcm",
    "SC_rgb_rle_32bit_2frame.dcm",
    pytest.param("rtdose_rle.dcm", marks=BAD_UID),  # 15 frames, 32-bit
]


def reference(ds: pydicom.Dataset) -> np.ndarray:
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return arr.reshape((frames, *arr.shape[-3 if ds.SamplesPerPixel > 1 else -2:]))


@pytest.mark.parametrize("name", COMPRESSED)
def test_whole_item_stream_equals_pixel_array(testdata, to_attrs, name):
    ds = pydicom.dcmread(testdata(name))
    desc = PixelDescription.from_attributes(to_attrs(ds))
    assert desc.is_encapsulated
    got = decode_frames(ds.PixelData, desc)
    expected = reference(ds)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", COMPRESSED)
def test_frames_fetched_one_by_one(testdata, to_attrs, name):
    ds = pydicom.dcmread(testdata(name))
    desc = PixelDescription.from_attributes(to_attrs(ds))
    codestreams = list(generate_frames(ds.PixelData, number_of_frames=desc.number_of_frames))
    order = list(range(desc.number_of_frames))[::-1]
    got = decode_frame_codestreams([codestreams[i] for i in order], desc,
                                   frame_numbers=[i + 1 for i in order])
    np.testing.assert_array_equal(got, reference(ds)[order])


@BAD_UID
def test_frame_subset_of_multi_frame_stream(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("rtdose_rle.dcm"))
    desc = PixelDescription.from_attributes(to_attrs(ds))
    got = decode_frames(ds.PixelData, desc, frames=[15, 3])
    np.testing.assert_array_equal(got, reference(ds)[[14, 2]])


def test_bare_codestream_of_a_single_frame(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("JPEG2000.dcm"))
    desc = PixelDescription.from_attributes(to_attrs(ds))
    (codestream,) = generate_frames(ds.PixelData, number_of_frames=1)
    np.testing.assert_array_equal(decode_frames(codestream, desc), reference(ds))


def test_lossy_jpeg_that_no_plugin_decodes(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("JPEG-lossy.dcm"))
    desc = PixelDescription.from_attributes(to_attrs(ds))
    with pytest.raises(RuntimeError):
        ds.pixel_array  # pydicom cannot either: same plugins  # noqa: B018
    with pytest.raises(PixelDataError, match="frame 1: cannot decode JPEG Extended"):
        decode_frames(ds.PixelData, desc)


@pytest.mark.parametrize("name", ["JPEG2000.dcm", "MR_small_jpeg_ls_lossless.dcm",
                                  "SC_rgb_jpeg_dcmtk.dcm", "MR_small_RLE.dcm"])
def test_corrupted_codestream(testdata, to_attrs, name):
    ds = pydicom.dcmread(testdata(name))
    desc = PixelDescription.from_attributes(to_attrs(ds))
    (codestream,) = generate_frames(ds.PixelData, number_of_frames=1)
    garbage = codestream[:8] + bytes(range(256)) * 2
    with pytest.raises(PixelDataError, match="frame 1: cannot decode"):
        decode_frame_codestreams([garbage], desc)
    with pytest.raises(PixelDataError, match="frame 1: cannot decode"):
        decode_frames(encapsulate([garbage]), desc)


def test_empty_codestream(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("JPEG2000.dcm"))
    desc = PixelDescription.from_attributes(to_attrs(ds))
    with pytest.raises(PixelDataError, match="frame 1: empty codestream"):
        decode_frame_codestreams([b""], desc)


def test_stream_with_fewer_frames_than_announced(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("SC_rgb_rle_2frame.dcm"))
    desc = PixelDescription.from_attributes(to_attrs(ds))
    first, _ = generate_frames(ds.PixelData, number_of_frames=2)
    with pytest.raises(PixelDataError, match="frame 2 not found"):
        decode_frames(encapsulate([first]), desc)


def test_multi_frame_payload_must_be_an_item_stream(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("SC_rgb_rle_2frame.dcm"))
    desc = PixelDescription.from_attributes(to_attrs(ds))
    with pytest.raises(PixelDataError, match="Basic Offset Table item"):
        decode_frames(ds.PixelData[8:], desc)


def test_geometry_disagreeing_with_codestream(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("MR_small_RLE.dcm"))
    desc = dataclasses.replace(PixelDescription.from_attributes(to_attrs(ds)), rows=32)
    with pytest.raises(PixelDataError, match="frame 1"):
        decode_frames(ds.PixelData, desc)


def test_transfer_syntax_without_decoder(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("JPEG2000.dcm"))
    desc = dataclasses.replace(PixelDescription.from_attributes(to_attrs(ds)),
                               transfer_syntax_uid=pydicom.uid.MPEG2MPML)
    with pytest.raises(PixelDataError, match="no decoder for transfer syntax"):
        decode_frames(ds.PixelData, desc)
