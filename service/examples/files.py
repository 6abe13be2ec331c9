"""Part 10 files of generated datasets (what the Healthcare API emulator serves)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from pydicom import Dataset, dcmwrite

logger = logging.getLogger(__name__)


def dicom_file_name(ds: Dataset) -> str:
    """The file name of an instance: its SOPInstanceUID (UIDs are safe file names)."""
    return f"{ds.SOPInstanceUID}.dcm"


def write_dicom_files(datasets: Iterable[Dataset], folder: Path) -> list[Path]:
    """Write each dataset as a DICOM Part 10 file named by its SOPInstanceUID."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in datasets:
        path = folder / dicom_file_name(ds)
        # enforce_file_format: preamble, DICM prefix and a complete group 0002.
        dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    logger.info("wrote %d DICOM files", len(paths))
    return paths
