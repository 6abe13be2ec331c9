"""Modules every synthetic instance shares: file meta, patient, study, equipment;
and the series and image attributes the CT and MR images have in common."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from . import phantom, uids
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
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
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


def add_series_opening(
    ds: Dataset, spec: StudySpec, series_index: int, *,
    sop_class_uid: str, modality: str, manufacturer: str,
) -> None:
    """SOP class, series dates, modality and site: how every image series begins."""
    series_date, series_time = add_seconds(
        spec.study_date, spec.study_time, series_seconds(series_index)
    )
    ds.SOPClassUID = sop_class_uid
    ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = series_date
    ds.SeriesTime = series_time
    ds.Modality = modality
    ds.Manufacturer = manufacturer
    add_institution(ds, spec)


def add_series_frame(
    ds: Dataset, spec: StudySpec, series_index: int, position_reference: str
) -> None:
    """Series identity and the study's frame of reference (PS3.3 C.7.3.1, C.7.4.1)."""
    ds.SeriesInstanceUID = series_instance_uid(spec, series_index)
    ds.SeriesNumber = 2 + series_index
    ds.AcquisitionNumber = 1
    ds.FrameOfReferenceUID = frame_of_reference_uid(spec)
    ds.PositionReferenceIndicator = position_reference


def add_pixel_format(ds: Dataset, bits_stored: int, *, signed: bool) -> None:
    """Image Pixel module of a 16-bit-allocated grayscale image (PS3.3 C.7.6.3)."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0


def add_image_timing(
    ds: Dataset, spec: StudySpec, series_index: int, plan: ImagePlan, *,
    seconds_per_scan: float, image_kind: str,
) -> float:
    """ImageType, SOPInstanceUID and the image's times; returns its seconds after the study."""
    seconds = series_seconds(series_index) + 5.0 + max(plan.scan_index, 0) * seconds_per_scan
    date, time = add_seconds(spec.study_date, spec.study_time, seconds)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER" if plan.is_localizer else image_kind]
    ds.InstanceCreationDate = date
    ds.InstanceCreationTime = time
    ds.SOPInstanceUID = sop_instance_uid(spec, series_index, plan)
    ds.AcquisitionTime = ds.ContentTime = time
    return seconds


def add_image_plane(ds: Dataset, plan: ImagePlan) -> None:
    """InstanceNumber and the Image Plane attributes of one planned image (PS3.3 C.7.6.2)."""
    ds.InstanceNumber = plan.instance_number
    ds.ImagePositionPatient = [ds_str(v, 4) for v in plan.position]
    ds.ImageOrientationPatient = [ds_str(v) for v in plan.orientation]
    ds.SliceLocation = ds_str(plan.slice_location, 4)
    ds.Rows = plan.rows
    ds.Columns = plan.columns
    ds.PixelSpacing = [ds_str(v) for v in plan.pixel_spacing]


def plane_coordinates(plan: ImagePlan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patient x, y, z (mm) of a planned image's pixel centres, broadcastable to rows × columns."""
    return phantom.plane_coordinates(
        plan.position, plan.orientation[:3], plan.orientation[3:],
        plan.pixel_spacing, plan.rows, plan.columns,
    )


def noise_seed(spec: StudySpec, series_index: int, plan: ImagePlan) -> list[int]:
    """Seed of an image's noise: a duplicate position gets noise of its own."""
    return [spec.seed, series_index, plan.scan_index + 1, int(plan.is_duplicate)]


def assemble_image(
    spec: StudySpec, series_index: int, plan: ImagePlan, *,
    add_series: Callable[[Dataset, StudySpec, int], None],
    add_image: Callable[[Dataset, StudySpec, int, ImagePlan], None],
    stored_pixels: Callable[[StudySpec, int, ImagePlan], np.ndarray],
    pixel_dtype: str,
) -> Dataset:
    """One complete image, with file meta and (if the spec asks) Pixel Data as OW."""
    ds = Dataset()
    add_patient_and_study(ds, spec)
    add_series(ds, spec, series_index)
    add_image(ds, spec, series_index, plan)
    if spec.with_pixels:
        pixels = stored_pixels(spec, series_index, plan)
        ds.add_new(0x7FE00010, "OW", pixels.astype(pixel_dtype).tobytes())
    ds.file_meta = file_meta(ds.SOPClassUID, ds.SOPInstanceUID)
    return ds
