"""PixelDescription.from_attributes: the Image Pixel module, validated."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from service.pixels.description import PixelDescription
from service.pixels.errors import FrameRangeError, PixelDataError


@pytest.fixture
def ct_attrs(to_attrs, make_ct) -> dict:
    values = np.zeros((1, 4, 5), dtype=np.int16)
    return to_attrs(make_ct(values, bits_allocated=16, bits_stored=12, signed=True))


def test_reads_what_pydicom_reads(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("CT_small.dcm"))
    desc = PixelDescription.from_attributes(to_attrs(ds))
    assert (desc.rows, desc.columns) == (ds.Rows, ds.Columns)
    assert desc.bits_allocated == ds.BitsAllocated
    assert desc.bits_stored == ds.BitsStored
    assert desc.high_bit == ds.HighBit
    assert desc.pixel_representation == ds.PixelRepresentation
    assert desc.photometric_interpretation == ds.PhotometricInterpretation
    assert desc.transfer_syntax_uid == ds.file_meta.TransferSyntaxUID
    assert desc.number_of_frames == 1
    assert desc.frame_shape == ds.pixel_array.shape


def test_multi_frame_rgb(testdata, to_attrs):
    ds = pydicom.dcmread(testdata("SC_rgb_rle_2frame.dcm"))
    desc = PixelDescription.from_attributes(to_attrs(ds))
    assert desc.number_of_frames == ds.NumberOfFrames == 2
    assert desc.samples_per_pixel == 3
    assert (desc.number_of_frames, *desc.frame_shape) == ds.pixel_array.shape
    assert desc.is_encapsulated


@pytest.mark.parametrize("keyword", [
    "Rows", "Columns", "BitsAllocated", "BitsStored", "PixelRepresentation",
    "SamplesPerPixel", "PhotometricInterpretation",
])
def test_missing_required_attribute_is_named(ct_attrs, keyword):
    del ct_attrs[keyword]
    with pytest.raises(PixelDataError, match=keyword):
        PixelDescription.from_attributes(ct_attrs)


@pytest.mark.parametrize("keyword", ["Rows", "BitsStored"])
def test_empty_attribute_counts_as_missing(ct_attrs, keyword):
    ct_attrs[keyword] = None
    with pytest.raises(PixelDataError, match=f"{keyword} is missing"):
        PixelDescription.from_attributes(ct_attrs)


@pytest.mark.parametrize(("changes", "named"), [
    ({"Rows": 0}, "Rows"),
    ({"Columns": -3}, "Columns"),
    ({"Rows": 2.5}, "Rows"),
    ({"Rows": "abc"}, "Rows"),
    ({"BitsAllocated": 12}, "BitsAllocated"),
    ({"BitsStored": 17}, "BitsStored"),
    ({"HighBit": 3}, "HighBit"),
    ({"HighBit": 16}, "HighBit"),
    ({"PixelRepresentation": 2}, "PixelRepresentation"),
    ({"SamplesPerPixel": 2}, "SamplesPerPixel"),
    ({"SamplesPerPixel": 3}, "PhotometricInterpretation"),
    ({"PhotometricInterpretation": "RGB"}, "PhotometricInterpretation"),
    ({"NumberOfFrames": 0}, "NumberOfFrames"),
    ({"TransferSyntaxUID": "1.2.3.4"}, "TransferSyntaxUID"),
    ({"Rows": [512, 512]}, "Rows"),
])
def test_inconsistent_attributes_are_named(ct_attrs, changes, named):
    ct_attrs.update(changes)
    with pytest.raises(PixelDataError, match=named):
        PixelDescription.from_attributes(ct_attrs)


def test_defaults_for_optional_attributes(ct_attrs):
    for keyword in ("HighBit", "NumberOfFrames", "TransferSyntaxUID"):
        ct_attrs.pop(keyword, None)
    desc = PixelDescription.from_attributes(ct_attrs)
    assert desc.high_bit == desc.bits_stored - 1
    assert desc.number_of_frames == 1
    assert desc.transfer_syntax_uid == pydicom.uid.ExplicitVRLittleEndian


def test_numbers_given_as_strings_or_one_element_lists(ct_attrs):
    ct_attrs["Rows"] = "4"
    ct_attrs["NumberOfFrames"] = ["1"]
    desc = PixelDescription.from_attributes(ct_attrs)
    assert desc.rows == 4 and desc.number_of_frames == 1


@pytest.mark.parametrize("frames", [[0], [2], [-1], [1.0], ["1"], []])
def test_frame_numbers_outside_range(ct_attrs, frames):
    desc = PixelDescription.from_attributes(ct_attrs)
    with pytest.raises(FrameRangeError):
        desc.frame_indices(frames)


def test_frame_numbers_are_one_based(ct_attrs):
    ct_attrs["NumberOfFrames"] = 3
    desc = PixelDescription.from_attributes(ct_attrs)
    assert desc.frame_indices(None) == [0, 1, 2]
    assert desc.frame_indices([3, np.int64(1)]) == [2, 0]
