"""The emulator's DICOM store: .dcm files of a folder, indexed by Study/Series/SOP Instance UID.

Serves what Google serves: the stored Pixel Data bytes (native, or the
encapsulated item stream of a compressed instance), single frames as stored
(codestreams), or frames decoded by pydicom to Explicit VR Little Endian.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError

log = logging.getLogger(__name__)

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
_NATIVE_LE = frozenset({IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN,
                        "1.2.840.10008.1.2.1.99"})


class FrameError(LookupError):
    """A requested frame number does not exist in the instance."""


@dataclass(frozen=True)
class InstanceKey:
    study_uid: str
    series_uid: str
    sop_uid: str


class DicomFolder:
    """Index of a folder of .dcm files; datasets are read from disk on each request."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._paths: dict[InstanceKey, Path] = {}
        self.reindex()

    def reindex(self) -> None:
        paths: dict[InstanceKey, Path] = {}
        for path in sorted(self.root.rglob("*.dcm")):
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                key = InstanceKey(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
                                  str(ds.SOPInstanceUID))
            except (InvalidDicomError, AttributeError, OSError) as exc:
                log.warning("skipping %s: %s", path.name, type(exc).__name__)
                continue
            paths[key] = path
        self._paths = paths
        log.info("indexed %d DICOM instances under %s", len(paths), self.root)

    def __len__(self) -> int:
        return len(self._paths)

    def keys(self) -> list[InstanceKey]:
        return list(self._paths)

    def read(self, key: InstanceKey) -> pydicom.Dataset | None:
        path = self._paths.get(key)
        return pydicom.dcmread(path) if path is not None else None

    def file_bytes(self, key: InstanceKey) -> bytes | None:
        """The stored file as it is on disk (what Google's instance retrieve sends for *)."""
        path = self._paths.get(key)
        return path.read_bytes() if path is not None else None


def transfer_syntax(ds: pydicom.Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    return str(getattr(meta, "TransferSyntaxUID", IMPLICIT_VR_LITTLE_ENDIAN))


def is_encapsulated(ds: pydicom.Dataset) -> bool:
    return transfer_syntax(ds) not in _NATIVE_LE | {"1.2.840.10008.1.2.2"}


def number_of_frames(ds: pydicom.Dataset) -> int:
    return int(ds.get("NumberOfFrames") or 1)


def stored_frames(ds: pydicom.Dataset, numbers: list[int]) -> list[bytes]:
    """Frames as stored: native frame slices, or the codestream of each compressed frame."""
    count = number_of_frames(ds)
    _check_numbers(numbers, count)
    if is_encapsulated(ds):
        frames = list(generate_frames(ds.PixelData, number_of_frames=count))
        return [frames[n - 1] for n in numbers]
    size = _native_frame_size(ds)
    data = ds.PixelData
    return [bytes(data[(n - 1) * size:n * size]) for n in numbers]


def decoded_frames(ds: pydicom.Dataset, numbers: list[int]) -> list[bytes]:
    """Frames decoded by pydicom and re-encoded as Explicit VR Little Endian bytes."""
    count = number_of_frames(ds)
    _check_numbers(numbers, count)
    if transfer_syntax(ds) in _NATIVE_LE:
        return stored_frames(ds, numbers)
    array = ds.pixel_array
    if count == 1:
        array = array[np.newaxis, ...]
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return [little[n - 1].tobytes() for n in numbers]


def element_bytes(ds: pydicom.Dataset, tag: int) -> bytes | None:
    """Bytes of a binary element (Pixel Data or another bulk element), or None."""
    element = ds.get(tag) if tag >> 16 != 0x0002 else ds.file_meta.get(tag)
    if element is None or not isinstance(element.value, bytes | bytearray):
        return None
    return bytes(element.value)


def metadata_json(ds: pydicom.Dataset, instance_url: str) -> dict[str, Any]:
    """DICOM JSON of one instance, bulk elements replaced by BulkDataURIs like Google's."""

    def bulk_uri(element: Any) -> str:
        return f"{instance_url}/bulkdata/{element.tag:08X}"

    return ds.to_json_dict(bulk_data_threshold=1024, bulk_data_element_handler=bulk_uri)


def _native_frame_size(ds: pydicom.Dataset) -> int:
    bits = int(ds.BitsAllocated)
    pixels = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel") or 1)
    return (pixels * bits + 7) // 8


def _check_numbers(numbers: list[int], count: int) -> None:
    for number in numbers:
        if not 1 <= number <= count:
            raise FrameError(f"frame {number} is out of range (the instance has {count})")
