"""Modules every synthetic instance shares: file meta, patient, study, equipment."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from . import uids
from .geometry import ImagePlan
from .spec import StudySpec

IMPLEMENTATION_VERSION = "DICOMRESOLVER01"  # SH, at most 16 characters
# Our own implementation UID, so file meta does not change with the pydicom version.
IMPLEMENTATION_CLASS_UID = uids.derive_uid("implementation", IMPLEMENTATION_VERSION)
SOURCE_AE_TITLE = "GECT01"


def ds_str(value: float, decimals: int = 6) -> str:
    """A DS string (at most 16 characters) of `value`, without trailing zeros."""
    text = f"{round(value, decimals):.{decimals}f}".rstrip("0").rstrip(".")
    text = "0" if text in ("-0", "") else text
    if len(text) > 16:
        raise ValueError(f"DS value {value!r} does not fit in 16 characters")
    return text


def add_seconds(date: str, time: str, seconds: float) -> tuple[str, str]:
    """DA and TM of `date`/`time` shifted by `seconds` (crossing midnight if needed)."""
    base = datetime.strptime(date + time.split(".")[0], "%Y%m%d%H%M%S")
    fraction = float("0." + time.split(".")[1]) if "." in time else 0.0
    moment = base + timedelta(seconds=fraction + seconds)
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S.%f")


def patient_age(birth_date: str, study_date: str) -> str:
    """PatientAge (AS) at the study date, in years: "062Y"."""
    born = datetime.strptime(birth_date, "%Y%m%d")
    seen = datetime.strptime(study_date, "%Y%m%d")
    years = seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day))
    return f"{max(years, 0):03d}Y"


def study_instance_uid(spec: StudySpec) -> str:
    """StudyInstanceUID of the study a spec describes."""
    return uids.study_uid(spec.seed, spec.patient_id, spec.accession_number, spec.study_date)


def file_meta(sop_class_uid: str, sop_instance_uid: str) -> FileMetaDataset:
    """Group 0002 for a Part 10 file in Explicit VR Little Endian."""
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    meta.SourceApplicationEntityTitle = SOURCE_AE_TITLE
    return meta


def add_patient_and_study(ds: Dataset, spec: StudySpec) -> None:
    """Patient, General Study and Patient Study modules (PS3.3 C.7.1.1, C.7.2.1, C.7.2.2)."""
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.StudyDate = spec.study_date
    ds.StudyTime = spec.study_time
    ds.AccessionNumber = spec.accession_number
    ds.ReferringPhysicianName = spec.referring_physician
    ds.StudyDescription = spec.study_description
    ds.PatientName = spec.patient_name
    ds.PatientID = spec.patient_id
    ds.IssuerOfPatientID = "EGH-MRN"
    ds.PatientBirthDate = spec.patient_birth_date
    ds.PatientSex = spec.patient_sex
    ds.PatientAge = patient_age(spec.patient_birth_date, spec.study_date)
    ds.PatientSize = "1.78"
    ds.PatientWeight = "82"
    ds.StudyInstanceUID = study_instance_uid(spec)
    ds.StudyID = str(1000 + spec.seed % 9000)
    ds.RequestingPhysician = spec.referring_physician
    ds.RequestedProcedureDescription = spec.study_description
    ds.PerformedProcedureStepStartDate = spec.study_date
    ds.PerformedProcedureStepStartTime = spec.study_time
    ds.PerformedProcedureStepID = f"PPS{spec.seed:06d}"
    ds.PerformedProcedureStepDescription = spec.study_description


def add_institution(ds: Dataset, spec: StudySpec) -> None:
    """The site attributes of the General Equipment module (PS3.3 C.7.5.1)."""
    ds.InstitutionName = spec.institution_name
    ds.InstitutionAddress = "1 HOSPITAL WAY^SPRINGFIELD"
    ds.StationName = "CTAWP00001"
    ds.InstitutionalDepartmentName = "RADIOLOGY"


def series_instance_uid(spec: StudySpec, series_index: int) -> str:
    """SeriesInstanceUID of image series `series_index` of the study."""
    return uids.derive_uid(study_instance_uid(spec), "series", series_index)


def sop_instance_uid(spec: StudySpec, series_index: int, plan: ImagePlan) -> str:
    """SOPInstanceUID of one planned image."""
    return uids.derive_uid(series_instance_uid(spec, series_index), plan.image_id)


def frame_of_reference_uid(spec: StudySpec) -> str:
    """One frame of reference per study: every series shares the patient coordinates."""
    return uids.derive_uid(study_instance_uid(spec), "frame-of-reference")


def series_seconds(series_index: int) -> float:
    """When a series starts, in seconds after the study time."""
    return 60.0 + 30.0 * series_index


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    """A code sequence item (PS3.3 8.8)."""
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def reference_item(sop_class: str, sop_instance: str) -> Dataset:
    """A referenced-SOP sequence item."""
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    return item
