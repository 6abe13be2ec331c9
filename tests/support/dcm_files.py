"""Small DICOM files written with pydicom for the emulator, bulk-data, pixel and volume
tests: CT slices, a 3-frame CT, pydicom's RLE MR, and Enhanced CTs with per-frame rescales.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"


def file_dataset(sop_class_uid: str, *, rows: int, columns: int) -> pydicom.Dataset:
    """A signed 16-bit MONOCHROME2 image in Explicit VR Little Endian, with its file meta
    and a fresh SOP Instance UID; no pixels, patient or study yet."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class_uid, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    return ds


def copy_with_new_uids(name: str, folder: Path) -> Path:
    """pydicom's test file `name` written to `folder` with fresh study, series and SOP
    Instance UIDs (so that suites sharing a session store do not collide)."""
    ds = pydicom.dcmread(get_testdata_file(name))
    if "ReferencedRTPlanSequence" in ds:
        del ds.ReferencedRTPlanSequence  # holds a UID pydicom warns about
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    path = folder / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(path)
    return path


def write_enhanced_ct(folder: Path, *, seed: int, rescales: Sequence[tuple[float, float]],
                      z_positions: Sequence[float], frame_of_reference: bool = False) -> Path:
    """A 16×16 Enhanced CT, one frame per (slope, intercept) of `rescales`, each frame at
    its own z and with its own rescale (per-frame functional groups); pixels from `seed`."""
    frames = len(rescales)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 3000, size=(frames, 16, 16), dtype=np.int16)
    ds = file_dataset(ENHANCED_CT, rows=16, columns=16)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    if frame_of_reference:
        ds.FrameOfReferenceUID = generate_uid()
    ds.Modality = "CT"
    ds.NumberOfFrames = frames
    shared, measures, orientation = pydicom.Dataset(), pydicom.Dataset(), pydicom.Dataset()
    measures.PixelSpacing = [0.75, 0.8]
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PixelMeasuresSequence = DicomSequence([measures])
    shared.PlaneOrientationSequence = DicomSequence([orientation])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    items = []
    for (slope, intercept), z in zip(rescales, z_positions, strict=True):
        item, transform, position = pydicom.Dataset(), pydicom.Dataset(), pydicom.Dataset()
        transform.RescaleSlope, transform.RescaleIntercept = slope, intercept
        transform.RescaleType = "HU"
        position.ImagePositionPatient = [-6.0, -6.0, z]
        item.PixelValueTransformationSequence = DicomSequence([transform])
        item.PlanePositionSequence = DicomSequence([position])
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(items)
    ds.PixelData = pixels.tobytes()
    path = folder / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@dataclass(frozen=True)
class Written:
    """Where a fixture was written and its identifying UIDs."""

    path: Path
    study_uid: str
    series_uid: str
    sop_uid: str
    transfer_syntax: str
    frames: int = 1


def write_ct(folder: Path, *, study_uid: str, series_uid: str, index: int,
             frames: int = 1) -> Written:
    """A 64×64 int16 CT slice (or `frames` frames) in Explicit VR Little Endian."""
    rng = np.random.default_rng(index)
    shape = (frames, 64, 64) if frames > 1 else (64, 64)
    pixels = rng.integers(-1024, 3000, size=shape, dtype=np.int16)
    ds = file_dataset(CTImageStorage, rows=64, columns=64)
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = "CT"
    ds.InstanceNumber = index
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels.tobytes()
    path = folder / f"ct-{index:03d}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return Written(path, study_uid, series_uid, str(ds.SOPInstanceUID),
                   ExplicitVRLittleEndian, frames)


def copy_rle(folder: Path) -> Written:
    """pydicom's bundled RLE Lossless MR image (64×64, 16-bit), copied into `folder`."""
    source = Path(get_testdata_file("MR_small_RLE.dcm"))
    path = folder / "mr-rle.dcm"
    shutil.copyfile(source, path)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return Written(path, str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
                   str(ds.SOPInstanceUID), str(ds.file_meta.TransferSyntaxUID))


def write_folder(folder: Path) -> dict[str, Written]:
    """Three CT slices, one 3-frame CT, and the RLE MR: the emulator's data set for tests."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    written = {f"ct{i}": write_ct(folder, study_uid=study, series_uid=series, index=i)
               for i in (1, 2, 3)}
    written["multiframe"] = write_ct(folder, study_uid=study, series_uid=generate_uid(),
                                     index=9, frames=3)
    written["rle"] = copy_rle(folder)
    return written
