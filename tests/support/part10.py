"""pydicom as the oracle of a retrieved or rebuilt Part 10 file: same attributes, same pixels."""

from __future__ import annotations

import numpy as np
import pydicom

PIXEL_DATA = 0x7FE00010


def assert_same_instance(got: pydicom.Dataset, original: pydicom.Dataset, *,
                         same_encoding: bool = True) -> None:
    """Every attribute of `original` in `got` with an equal value, nothing more; Pixel Data
    decoded equal (and byte-equal when `same_encoding`); the SOP Instance UID kept."""
    for element in original:
        if element.tag == PIXEL_DATA:
            continue
        assert element.tag in got, element.keyword or str(element.tag)
        assert got[element.tag].value == element.value, element.keyword or str(element.tag)
    assert {e.tag for e in got} == {e.tag for e in original}
    assert got.file_meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID
    assert got.file_meta.MediaStorageSOPClassUID == original.SOPClassUID
    if PIXEL_DATA in original:
        assert np.array_equal(got.pixel_array, original.pixel_array)
        if same_encoding:
            assert got.PixelData == original.PixelData
