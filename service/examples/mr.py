"""MR Image Storage instances: a GE-like T1 axial series of the same phantom.

MR pixels are unsigned intensities without a modality rescale; they are a
monotone-by-tissue mapping of the phantom's HU, enough for search and
normalisation tests that need a second modality.
"""

from __future__ import annotations

import numpy as np
from pydicom import Dataset
from pydicom.uid import MRImageStorage

from . import common, phantom
from .geometry import ImagePlan
from .spec import StudySpec

# HU of the phantom's tissues → T1-weighted signal (air, lung, fat, soft tissue, bone).
_HU = (-1000.0, -850.0, -100.0, 40.0, 700.0)
_SIGNAL = (0.0, 30.0, 900.0, 500.0, 250.0)


def add_series_attributes(ds: Dataset, spec: StudySpec, series_index: int) -> None:
    """Everything that is the same for every image of an MR series."""
    series_date, series_time = common.add_seconds(
        spec.study_date, spec.study_time, common.series_seconds(series_index)
    )
    ds.SOPClassUID = MRImageStorage
    ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = series_date
    ds.SeriesTime = series_time
    ds.Modality = "MR"
    ds.Manufacturer = "GE MEDICAL SYSTEMS"
    common.add_institution(ds, spec)
    ds.SeriesDescription = f"AX T1 SE {series_index + 1}"
    ds.ManufacturerModelName = "SIGNA Premier"
    ds.SoftwareVersions = "MR29.1"
    ds.ProtocolName = "CHEST MR"
    ds.BodyPartExamined = "CHEST"
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = "SK"
    ds.ScanOptions = "FAST_GEMS"
    ds.MRAcquisitionType = "2D"
    ds.SliceThickness = common.ds_str(spec.slice_thickness)
    ds.RepetitionTime = "600"
    ds.EchoTime = "10.5"
    ds.NumberOfAverages = "1"
    ds.ImagingFrequency = "127.7"
    ds.ImagedNucleus = "1H"
    ds.MagneticFieldStrength = "3"
    ds.SpacingBetweenSlices = common.ds_str(spec.spacing_between_slices)
    ds.EchoTrainLength = "4"
    ds.FlipAngle = "90"
    ds.PatientPosition = "HFS"
    ds.SeriesInstanceUID = common.series_instance_uid(spec, series_index)
    ds.SeriesNumber = 2 + series_index
    ds.AcquisitionNumber = 1
    ds.FrameOfReferenceUID = common.frame_of_reference_uid(spec)
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.WindowCenter = "450"
    ds.WindowWidth = "900"


def add_image_attributes(
    ds: Dataset, spec: StudySpec, series_index: int, plan: ImagePlan
) -> None:
    """The attributes that change from image to image of an MR series."""
    seconds = common.series_seconds(series_index) + 5.0 + max(plan.scan_index, 0) * 4.0
    date, time = common.add_seconds(spec.study_date, spec.study_time, seconds)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER" if plan.is_localizer else "OTHER"]
    ds.InstanceCreationDate = date
    ds.InstanceCreationTime = time
    ds.SOPInstanceUID = common.sop_instance_uid(spec, series_index, plan)
    ds.AcquisitionTime = ds.ContentTime = time
    ds.InstanceNumber = plan.instance_number
    ds.ImagePositionPatient = [common.ds_str(v, 4) for v in plan.position]
    ds.ImageOrientationPatient = [common.ds_str(v) for v in plan.orientation]
    ds.SliceLocation = common.ds_str(plan.slice_location, 4)
    ds.Rows = plan.rows
    ds.Columns = plan.columns
    ds.PixelSpacing = [common.ds_str(v) for v in plan.pixel_spacing]


def stored_pixels(spec: StudySpec, series_index: int, plan: ImagePlan) -> np.ndarray:
    """The image's stored values (uint16)."""
    x, y, z = phantom.plane_coordinates(
        plan.position, plan.orientation[:3], plan.orientation[3:],
        plan.pixel_spacing, plan.rows, plan.columns,
    )
    signal = np.interp(phantom.hounsfield(x, y, z), _HU, _SIGNAL).astype(np.float32)
    seed = [spec.seed, series_index, plan.scan_index + 1, int(plan.is_duplicate)]
    signal += phantom.noise(seed, signal.shape, spec.noise_hu)
    return np.clip(np.rint(signal), 0, 65535).astype(np.uint16)


def make_mr_image(spec: StudySpec, series_index: int, plan: ImagePlan) -> Dataset:
    """One complete MR image, with file meta and (if asked) Pixel Data."""
    ds = Dataset()
    common.add_patient_and_study(ds, spec)
    add_series_attributes(ds, spec, series_index)
    add_image_attributes(ds, spec, series_index, plan)
    if spec.with_pixels:
        pixels = stored_pixels(spec, series_index, plan)
        ds.add_new(0x7FE00010, "OW", pixels.astype("<u2").tobytes())
    ds.file_meta = common.file_meta(ds.SOPClassUID, ds.SOPInstanceUID)
    return ds
