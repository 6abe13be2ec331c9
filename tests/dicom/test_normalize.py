"""Normalization checked attribute by attribute against pydicom's reading of the same data."""

from __future__ import annotations

import datetime
from unittest.mock import ANY

import orjson
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VM, get_private_entry
from pydicom.dataelem import DataElement
from pydicom.valuerep import DA, DT, TM

from service.dicom.normalize import normalize_attributes, normalize_instance
from service.dicom.records import parse_dump

FILES = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "waveform_ecg.dcm", "JPEG2000.dcm"]


def _bulk(_element: DataElement) -> str:
    return "https://healthcare.googleapis.com/v1/bulk"


def _expected_value(element: DataElement, scalar: bool) -> object:
    """What the contract says a pydicom element becomes."""
    vr = element.VR
    if element.VM == 0 or element.value is None:
        return None
    items = list(element.value) if element.VM > 1 or vr == "SQ" else [element.value]
    if vr == "SQ":
        converted = [_expected_dataset(item) for item in items]
    elif vr == "PN":
        converted = [str(v) for v in items]
    elif vr == "DA":
        converted = [DA(str(v)).isoformat() for v in items]
    elif vr == "TM":
        converted = [TM(str(v)) for v in items]  # compared as times, see below
    elif vr == "DT":
        converted = [DT(str(v)).isoformat() for v in items]
    elif vr in ("DS", "FL", "FD"):
        converted = [float(v) for v in items]
    elif vr in ("IS", "US", "SS", "UL", "SL", "UV", "SV"):
        converted = [int(v) for v in items]
    elif vr == "AT":
        converted = [f"{int(v):08X}" for v in items]
    else:
        converted = [str(v) for v in items]
    return converted[0] if scalar and len(converted) == 1 and vr != "SQ" else converted


def _expected_dataset(ds: pydicom.Dataset) -> dict:
    expected: dict = {}
    for element in ds:
        if element.tag.is_private or element.tag.element == 0:
            continue
        key = element.keyword or f"{int(element.tag):08X}"
        if element.VR in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
            expected[key] = ANY  # bytes stay a BulkDataURI/InlineBinary reference
            continue
        scalar = element.keyword != "" and dictionary_VM(element.tag) == "1"
        expected[key] = _expected_value(element, scalar)
    return expected


@pytest.mark.parametrize("name", FILES)
def test_public_attributes_match_pydicom(name: str) -> None:
    ds = pydicom.dcmread(get_testdata_file(name))
    instance = ds.to_json_dict(bulk_data_threshold=256, bulk_data_element_handler=_bulk)
    normalized = normalize_attributes(instance)
    expected = _expected_dataset(ds)
    for key, value in expected.items():
        got = normalized[key]
        if isinstance(value, datetime.time):
            assert datetime.time.fromisoformat(got) == value, key
        elif isinstance(value, float) or (isinstance(value, list) and value
                                        and isinstance(value[0], float)):
            assert got == pytest.approx(value), key
        else:
            assert got == value, key


def test_private_attributes_carry_creator_and_name() -> None:
    ds = pydicom.Dataset()
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = "1.2", "1.2.3", "1.2.3.4"
    block = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
    block.add_new(0x02, "SL", 7)
    block.add_new(0x84, "DS", "1.25")
    normalized = normalize_attributes(ds.to_json_dict())
    private = {entry["tag"]: entry for entry in normalized["private"]}
    assert private["00190010"]["value"] == "GEMS_ACQU_01"
    entry = private["00191002"]
    assert entry["creator"] == "GEMS_ACQU_01"
    assert entry["name"] == get_private_entry(0x00191002, "GEMS_ACQU_01")[2]
    assert entry["value"] == 7
    assert "00191002" not in normalized


def test_levels_follow_the_information_model() -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    attributes, study, series = normalize_instance(ds.to_json_dict(
        bulk_data_threshold=256, bulk_data_element_handler=_bulk))
    assert study["PatientName"] == str(ds.PatientName)
    assert study["StudyInstanceUID"] == ds.StudyInstanceUID
    assert "Modality" not in study and series["Modality"] == ds.Modality
    assert series["SeriesInstanceUID"] == ds.SeriesInstanceUID
    assert "SOPInstanceUID" not in study and "SOPInstanceUID" not in series
    assert attributes["SOPInstanceUID"] == ds.SOPInstanceUID


def test_record_index_fields_match_pydicom() -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    body = orjson.dumps([ds.to_json_dict(bulk_data_threshold=256,
                                         bulk_data_element_handler=_bulk)])
    record = parse_dump(body).records[0]
    assert record.patient_id == ds.PatientID
    assert record.study_date == ds.StudyDate
    assert record.instance_number == int(ds.InstanceNumber)
    row, col = [float(v) for v in ds.ImageOrientationPatient[:3]], \
        [float(v) for v in ds.ImageOrientationPatient[3:]]
    normal = [row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2],
              row[0] * col[1] - row[1] * col[0]]
    expected = sum(float(p) * n for p, n in zip(ds.ImagePositionPatient, normal, strict=True))
    assert record.slice_position == pytest.approx(expected)
    assert record.has_pixel_data and not record.pixel_module_missing
