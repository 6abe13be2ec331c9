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
    common.add_series_opening(
        ds, spec, series_index,
        sop_class_uid=MRImageStorage, modality="MR", manufacturer="GE MEDICAL SYSTEMS",
    )
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
    common.add_series_frame(ds, spec, series_index, "")
    common.add_pixel_format(ds, 16, signed=False)
    ds.WindowCenter = "450"
    ds.WindowWidth = "900"


def add_image_attributes(
    ds: Dataset, spec: StudySpec, series_index: int, plan: ImagePlan
) -> None:
    """The attributes that change from image to image of an MR series."""
    common.add_image_timing(ds, spec, series_index, plan, seconds_per_scan=4.0, image_kind="OTHER")
    common.add_image_plane(ds, plan)


def stored_pixels(spec: StudySpec, series_index: int, plan: ImagePlan) -> np.ndarray:
    """The image's stored values (uint16)."""
    x, y, z = common.plane_coordinates(plan)
    signal = np.interp(phantom.hounsfield(x, y, z), _HU, _SIGNAL).astype(np.float32)
    seed = common.noise_seed(spec, series_index, plan)
    signal += phantom.noise(seed, signal.shape, spec.noise_hu)
    return np.clip(np.rint(signal), 0, 65535).astype(np.uint16)


def make_mr_image(spec: StudySpec, series_index: int, plan: ImagePlan) -> Dataset:
    """One complete MR image, with file meta and (if asked) Pixel Data."""
    return common.assemble_image(
        spec, series_index, plan,
        add_series=add_series_attributes, add_image=add_image_attributes,
        stored_pixels=stored_pixels, pixel_dtype="<u2",
    )
