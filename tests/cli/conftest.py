"""Dumps for the CLI tests, built with pydicom (`Dataset.to_json_dict`), and the stand-in
Google DICOM store `pull` imports from (tests/support/google_store.py).

Two patients, three studies, CT series with a sequence, a GE private block,
Pixel Data behind a BulkDataURI, a small inline OB, and an SR series.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from pydicom import Dataset
from pydicom.dataelem import DataElement
from pydicom.uid import BasicTextSRStorage, CTImageStorage, generate_uid

from tests.support.google_store import stand_in_fixtures

BULK_ROOT = "https://healthcare.googleapis.com/v1/projects/p/locations/l/datasets/d/dicomStores/s"
LONG_COMMENT = "Comment " + "x" * 300

account, store_folder, stand_in, studies, service_env = stand_in_fixtures()


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def ct_image(patient: tuple[str, str], study_uid: str, series_uid: str, number: int,
             study_date: str = "20240312") -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.PatientName, ds.PatientID = patient
    ds.StudyDate, ds.StudyTime = study_date, "101502.123"
    ds.StudyDescription = "CT CHEST W/O CONTRAST"
    ds.AccessionNumber = "ACC-" + study_uid[-4:]
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 2, number
    ds.SeriesDescription = "CHEST 1.25MM STD"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SliceThickness = "1.25"
    ds.KVP = "120"
    ds.ImagePositionPatient = ["-180", "-180", str(-10.0 * number)]
    ds.RescaleIntercept, ds.RescaleSlope = "-1024", "1"
    ds.Rows = ds.Columns = 4
    ds.ImageComments = LONG_COMMENT
    ds.ProcedureCodeSequence = [code_item("CTCHWO", "99EGH", "CT CHEST W/O CONTRAST")]
    block = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
    block.add_new(0x02, "SL", 7)
    block.add_new(0x03, "DS", "444.75")
    ds.add(DataElement(0x00091001, "LO", "no creator for me"))  # orphan private element
    ds.add(DataElement(0x7FE00010, "OW", b"\0" * 32))
    ds.add(DataElement(0x00420011, "OB", b"abcde\0"))  # Encapsulated Document, small
    return ds


def sr_document(patient: tuple[str, str], study_uid: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = BasicTextSRStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
    ds.PatientName, ds.PatientID = patient
    ds.StudyDate = "20240312"
    ds.Modality, ds.SeriesNumber = "SR", 999
    ds.SeriesDescription = "RADIOLOGY REPORT"
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = [code_item("18748-4", "LN", "Diagnostic Imaging Report")]
    text = Dataset()
    text.RelationshipType, text.ValueType, text.TextValue = "CONTAINS", "TEXT", "Clear."
    text.ConceptNameCodeSequence = [code_item("121071", "DCM", "Finding")]
    ds.ContentSequence = [text]
    return ds


def to_instance(ds: Dataset) -> dict:
    """As Google exports it: Pixel Data behind a BulkDataURI, small bytes inline."""
    def bulk(element: DataElement) -> str:
        return (f"{BULK_ROOT}/dicomWeb/studies/{ds.StudyInstanceUID}/series/"
                f"{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}/bulkdata/"
                f"{element.tag:08X}")
    return ds.to_json_dict(bulk_data_threshold=16, bulk_data_element_handler=bulk)


@pytest.fixture
def datasets() -> list[Dataset]:
    """Patient A: a study of 3 CT + 1 SR and a later study of 1 CT; patient B: 2 CT."""
    first, second, third = generate_uid(), generate_uid(), generate_uid()
    series_a, series_b, series_c = generate_uid(), generate_uid(), generate_uid()
    patient_a, patient_b = ("DOE^JANE^^MS.", "PAT-A"), ("ROE^RICHARD", "PAT-B")
    return [
        sr_document(patient_a, first),
        *(ct_image(patient_a, first, series_a, n) for n in (3, 1, 2)),
        ct_image(patient_a, second, series_b, 1, study_date="20250101"),
        *(ct_image(patient_b, third, series_c, n) for n in (1, 2)),
    ]


def write_dump(path: Path, instances: list[dict]) -> Path:
    path.write_bytes(orjson.dumps(instances))
    return path


@pytest.fixture
def dump_file(tmp_path: Path, datasets: list[Dataset]) -> Path:
    return write_dump(tmp_path / "dump.json", [to_instance(ds) for ds in datasets])
