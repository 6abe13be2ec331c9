"""Part 10 files and pixels, read back with pydicom (the oracle)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import Dataset
from pydicom.pixels import apply_modality_lut
from pydicom.uid import ExplicitVRLittleEndian

from service.examples import phantom
from service.examples.factory import StudySpec, make_study, to_google_json, write_dicom_files

NOISE_HU = StudySpec().noise_hu


def phantom_at_pixels(ds: Dataset) -> np.ndarray:
    """The phantom's HU at each pixel centre, from the geometry pydicom reads."""
    orientation = [float(v) for v in ds.ImageOrientationPatient]
    x, y, z = phantom.plane_coordinates(
        [float(v) for v in ds.ImagePositionPatient], orientation[:3], orientation[3:],
        (float(ds.PixelSpacing[0]), float(ds.PixelSpacing[1])), ds.Rows, ds.Columns,
    )
    return phantom.hounsfield(x, y, z)


def test_every_file_reads_back_identically(
    small_study: list[Dataset], small_files: list[Path]
) -> None:
    assert [p.name for p in small_files] == [f"{ds.SOPInstanceUID}.dcm" for ds in small_study]
    for ds, path in zip(small_study, small_files, strict=True):
        assert path.read_bytes()[128:132] == b"DICM"
        read = pydicom.dcmread(path)
        assert read.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert read.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        # What the emulator serves describes itself exactly as the dump does.
        assert to_google_json(read) == to_google_json(ds)


def test_ct_pixels_are_hounsfield_units_of_the_phantom(small_files: list[Path]) -> None:
    for path in small_files:
        ds = pydicom.dcmread(path)
        if ds.Modality != "CT":
            continue
        assert (ds.BitsAllocated, ds.PixelRepresentation, ds.RescaleType) == (16, 1, "HU")
        pixels = ds.pixel_array
        assert pixels.dtype == np.int16
        hu = apply_modality_lut(pixels, ds)
        assert -1010 <= hu.min() and hu.max() <= 710
        assert np.abs(hu - phantom_at_pixels(ds)).max() <= NOISE_HU + 0.5


def test_phantom_tissues_and_slices_differ(example_study: list[Dataset]) -> None:
    slices = [apply_modality_lut(ds.pixel_array, ds) for ds in example_study[1:]]
    middle = slices[12]
    assert np.median(middle[:20, :20]) < -990  # air in the corner
    assert (middle < -800).mean() > 0.1  # lungs
    assert (middle > 600).sum() > 200  # spine
    assert (np.abs(middle) < 60).mean() > 0.2  # soft tissue
    assert not np.array_equal(slices[0], slices[-1])
    assert np.abs(slices[0] - slices[-1]).mean() > 5  # not only noise: anatomy changes


def test_mr_pixels_are_unsigned_without_rescale() -> None:
    spec = StudySpec(modality="MR", n_slices=2, rows=48, columns=48, with_report=False)
    for ds in make_study(spec):
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4"
        assert "RescaleSlope" not in ds
        assert ds.pixel_array.dtype == np.uint16
        assert ds.pixel_array.max() > 400


@pytest.mark.parametrize("spec", [
    StudySpec(n_slices=4, rows=64, columns=64, bits_stored=12),
    StudySpec(n_slices=4, rows=64, columns=64, vary_rescale=True),
    StudySpec(n_slices=3, rows=64, columns=64, vary_rescale=True, bits_stored=12),
], ids=["bits12", "vary-rescale", "bits12-vary-rescale"])
def test_stored_values_fit_and_rescale_per_instance(spec: StudySpec, tmp_path: Path) -> None:
    paths = write_dicom_files(make_study(spec)[1:], tmp_path)
    rescales = set()
    for path in paths:
        ds = pydicom.dcmread(path)
        assert ds.BitsStored == spec.bits_stored and ds.HighBit == spec.bits_stored - 1
        stored = ds.pixel_array
        limit = 1 << (spec.bits_stored - 1)
        assert -limit <= stored.min() and stored.max() < limit
        hu = apply_modality_lut(stored, ds)
        tolerance = NOISE_HU + float(ds.RescaleSlope) / 2
        assert np.abs(hu - phantom_at_pixels(ds)).max() <= tolerance
        rescales.add((float(ds.RescaleSlope), float(ds.RescaleIntercept)))
    # vary_rescale cycles through 4 pairs (16 bits) or 3 (12 bits).
    pairs = {16: 4, 12: 3}[spec.bits_stored] if spec.vary_rescale else 1
    assert len(rescales) == min(spec.n_slices, pairs)


def test_pixel_padding_outside_the_reconstruction_circle(tmp_path: Path) -> None:
    spec = StudySpec(n_slices=1, rows=64, columns=64, pixel_padding=True, with_report=False)
    ds = pydicom.dcmread(write_dicom_files(make_study(spec), tmp_path)[0])
    stored = ds.pixel_array
    assert ds.PixelPaddingValue == -2000
    assert stored[0, 0] == -2000 and stored[32, 32] != -2000
    inside = stored != ds.PixelPaddingValue
    hu = apply_modality_lut(stored, ds)
    assert hu[inside].min() >= -1010
