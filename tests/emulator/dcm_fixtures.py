"""Small DICOM files written with pydicom for the emulator and bulk-data tests.

Shared by tests/emulator and tests/bulkdata (each conftest loads this file by path).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


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
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = "CT"
    ds.InstanceNumber = index
    ds.Rows, ds.Columns = 64, 64
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1
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
