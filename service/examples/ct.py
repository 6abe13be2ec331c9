"""CT Image Storage instances shaped like a GE LightSpeed helical chest scan.

An image is built from two parts: the series attributes (the same for every
image of the series) and the image attributes (UIDs, numbers, geometry,
rescale, tube current, ...). The fast dump path in `bench.py` reuses the
series part and only rebuilds the image part, so both paths agree.
"""

from __future__ import annotations

import numpy as np
from pydicom import Dataset
from pydicom.uid import CTImageStorage

from . import common, ge_private, phantom, uids
from .geometry import ImagePlan
from .spec import StudySpec

MANUFACTURER = "GE MEDICAL SYSTEMS"
PADDING_VALUE = -2000  # stored value GE writes outside the reconstruction circle
# (kernel, description, window centre, window width) of each reconstruction.
RECONSTRUCTIONS = (
    ("STANDARD", "CHEST 1.25MM STD", "40", "400"),
    ("LUNG", "CHEST 1.25MM LUNG", "-600", "1500"),
    ("BONE", "CHEST 1.25MM BONE", "500", "2000"),
)


def add_series_attributes(ds: Dataset, spec: StudySpec, series_index: int) -> None:
    """Everything that is the same for every image of a CT series."""
    kernel, description, center, width = RECONSTRUCTIONS[series_index % len(RECONSTRUCTIONS)]
    common.add_series_opening(
        ds, spec, series_index,
        sop_class_uid=CTImageStorage, modality="CT", manufacturer=MANUFACTURER,
    )
    ds.SeriesDescription = description
    ds.OperatorsName = "TECH^CT"
    ds.ManufacturerModelName = "LightSpeed VCT"
    ds.DeviceSerialNumber = "CT00123456"
    ds.SoftwareVersions = "07MW18.4"
    ds.ProtocolName = "5.1 ROUTINE CHEST"
    ds.BodyPartExamined = "CHEST"
    ds.ScanOptions = "HELICAL MODE"
    ds.SliceThickness = common.ds_str(spec.slice_thickness)
    ds.KVP = "120"
    ds.DataCollectionDiameter = "500.000000"
    ds.ReconstructionDiameter = common.ds_str(spec.field_of_view)
    ds.DistanceSourceToDetector = "949.075012"
    ds.DistanceSourceToPatient = "541.000000"
    ds.GantryDetectorTilt = common.ds_str(spec.oblique_degrees)
    ds.TableHeight = "157.500000"
    ds.RotationDirection = "CW"
    ds.ExposureTime = "500"
    ds.FilterType = "BODY FILTER"
    ds.GeneratorPower = "48000"
    ds.FocalSpots = "0.700000"
    ds.ConvolutionKernel = kernel
    ds.PatientPosition = "FFS"
    ds.RevolutionTime = 0.5
    ds.SingleCollimationWidth = 0.625
    ds.TotalCollimationWidth = 40.0
    ds.TableSpeed = 78.75
    ds.TableFeedPerRotation = 39.375
    ds.SpiralPitchFactor = 0.984375
    common.add_series_frame(ds, spec, series_index, "SN")
    ds.ImagesInAcquisition = spec.n_slices
    common.add_pixel_format(ds, spec.bits_stored, signed=True)
    if spec.pixel_padding:
        ds.add_new(0x00280120, "SS", PADDING_VALUE)  # PixelPaddingValue
    ds.WindowCenter = center
    ds.WindowWidth = width
    ds.RescaleType = "HU"
    ds.LossyImageCompression = "00"
    ds.AnatomicRegionSequence = [common.code_item("51185008", "SCT", "Chest")]
    ds.ProcedureCodeSequence = [common.code_item("CTCHWO", "99EGH", spec.study_description)]
    request = Dataset()
    request.RequestedProcedureID = spec.accession_number
    request.ScheduledProcedureStepID = spec.accession_number + "-1"
    ds.RequestAttributesSequence = [request]
    ds.ReferencedPerformedProcedureStepSequence = [common.reference_item(
        "1.2.840.10008.3.1.2.3.3", uids.derive_uid(common.study_instance_uid(spec), "mpps")
    )]
    ge_private.add_series_private(ds, spec, series_index)


def add_image_attributes(
    ds: Dataset, spec: StudySpec, series_index: int, plan: ImagePlan
) -> None:
    """The attributes that change from image to image of a series."""
    seconds = common.add_image_timing(
        ds, spec, series_index, plan, seconds_per_scan=0.25, image_kind="AXIAL"
    )
    # Tube current modulation: more mA where the body is wider (a smooth function of z).
    milliamps = int(round(180 + 60 * np.sin(plan.slice_location / 60.0)))
    ds.XRayTubeCurrent = milliamps
    ds.Exposure = int(round(milliamps * 0.5))
    ds.CTDIvol = round(milliamps * 0.0412, 4)
    common.add_image_plane(ds, plan)
    ds.RescaleIntercept = common.ds_str(plan.intercept)
    ds.RescaleSlope = common.ds_str(plan.slope)
    ds.IrradiationEventUID = uids.derive_uid(ds.SOPInstanceUID, "irradiation")
    ge_private.add_image_private(ds, spec, plan, seconds)


def stored_pixels(spec: StudySpec, series_index: int, plan: ImagePlan) -> np.ndarray:
    """The image's stored values (int16): HU of the phantom, inverse-rescaled."""
    x, y, z = common.plane_coordinates(plan)
    hu = phantom.hounsfield(x, y, z)
    hu += phantom.noise(common.noise_seed(spec, series_index, plan), hu.shape, spec.noise_hu)
    stored = np.rint((hu - plan.intercept) / plan.slope)
    low, high = -(1 << (spec.bits_stored - 1)), (1 << (spec.bits_stored - 1)) - 1
    stored = np.clip(stored, low, high).astype(np.int16)
    if spec.pixel_padding and not plan.is_localizer:
        # The scanner only reconstructs a circle of ReconstructionDiameter.
        centre = np.array(plan.position) + (
            np.array(plan.orientation[:3]) * plan.pixel_spacing[1] * (plan.columns - 1) / 2
            + np.array(plan.orientation[3:]) * plan.pixel_spacing[0] * (plan.rows - 1) / 2
        )
        distance = np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2)
        stored[distance > spec.field_of_view / 2] = PADDING_VALUE
    return stored


def make_ct_image(spec: StudySpec, series_index: int, plan: ImagePlan) -> Dataset:
    """One complete CT image, with file meta and (if asked) Pixel Data."""
    return common.assemble_image(
        spec, series_index, plan,
        add_series=add_series_attributes, add_image=add_image_attributes,
        stored_pixels=stored_pixels, pixel_dtype="<i2",
    )
