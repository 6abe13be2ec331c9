"""Shared helpers for the pixel tests: datasets built with pydicom and the
service's keyword form derived from them.

`keyword_attrs` follows the contract of service/dicom/normalize.py (numbers for
DS/IS/binary numbers, scalars for dictionary VM "1", lists otherwise, None for
empty, SQ as lists of dicts, bytes as InlineBinary/BulkDataURI) so these tests do
not depend on that module being finished.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from pydicom import Dataset
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VM
from pydicom.dataelem import DataElement
from pydicom.dataset import FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

INT_VRS = {"IS", "US", "SS", "UL", "SL", "UV", "SV", "US or SS"}
FLOAT_VRS = {"DS", "FL", "FD"}


def _number(vr: str, value: Any) -> int | float:
    return int(value) if vr in INT_VRS else float(value)


def _element_value(elem: DataElement) -> Any:
    vr = elem.VR
    if vr == "SQ":
        return [keyword_attrs(item) for item in elem.value] if elem.value else None
    if elem.value is None or elem.value == "" or elem.value == b"" or (
            isinstance(elem.value, list | MultiValue) and len(elem.value) == 0):
        return None
    if isinstance(elem.value, bytes | bytearray):
        if elem.keyword == "PixelData":
            return {"BulkDataURI": "https://example.invalid/bulkdata/7FE00010"}
        return {"InlineBinary": base64.b64encode(elem.value).decode("ascii")}
    values = list(elem.value) if isinstance(elem.value, list | tuple | MultiValue) else [elem.value]
    if vr in INT_VRS | FLOAT_VRS:
        values = [_number(vr, value) for value in values]
    else:
        values = [str(value) for value in values]
    if dictionary_VM(elem.tag) == "1":
        return values[0]
    return values


def keyword_attrs(ds: Dataset) -> dict[str, Any]:
    """The keyword form of `ds` (file meta TransferSyntaxUID included)."""
    attrs: dict[str, Any] = {}
    for elem in ds:
        if elem.tag.is_private or not elem.keyword:
            continue
        attrs[elem.keyword] = _element_value(elem)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        attrs["TransferSyntaxUID"] = str(meta.TransferSyntaxUID)
    return attrs


def make_image(values: np.ndarray, *, bits_allocated: int, bits_stored: int,
               signed: bool, slope: float | None = 1.0, intercept: float | None = -1024.0,
               tsyntax: str = ExplicitVRLittleEndian, **extra: Any) -> Dataset:
    """A CT-like dataset whose PixelData encodes `values` (frames, rows, columns)."""
    frames, rows, columns = values.shape
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = tsyntax
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = int(signed)
    if frames > 1:
        ds.NumberOfFrames = frames
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    dtype = f"<{'i' if signed else 'u'}{bits_allocated // 8}"
    ds.PixelData = values.astype(dtype).tobytes()
    ds["PixelData"].VR = "OW" if bits_allocated > 8 else "OB"
    return ds


@pytest.fixture
def testdata():
    """Path of a pydicom test file; skips only if pydicom stopped shipping it."""
    def find(name: str) -> str:
        path = get_testdata_file(name, download=False)
        if path is None:
            pytest.skip(f"pydicom does not ship {name}")
        return str(path)
    return find


@pytest.fixture
def to_attrs():
    """keyword_attrs: the keyword form of a pydicom Dataset."""
    return keyword_attrs


@pytest.fixture
def make_ct():
    """make_image: a CT-like Dataset holding the given stored values."""
    return make_image
