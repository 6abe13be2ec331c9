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
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

from service.dicom.transfer_syntax import UNCOMPRESSED
from service.emulator.search import SearchAttributes
from service.examples import google_json

log = logging.getLogger(__name__)

# Uncompressed little endian once read: frames are byte slices of Pixel Data.
_NATIVE_LE = UNCOMPRESSED - {ExplicitVRBigEndian}


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
        # What QIDO-RS searches match on, read once per file (service/emulator/search.py).
        self._searchable: dict[InstanceKey, SearchAttributes] = {}
        self._seen: dict[Path, tuple[int, InstanceKey]] = {}
        self.reindex()

    def reindex(self) -> list[InstanceKey]:
        """Index the folder again (files already indexed and unchanged are not re-read);
        answers the instances that were not indexed before."""
        paths: dict[InstanceKey, Path] = {}
        searchable: dict[InstanceKey, SearchAttributes] = {}
        seen: dict[Path, tuple[int, InstanceKey]] = {}
        for path in sorted(self.root.rglob("*.dcm")):
            try:
                mtime = path.stat().st_mtime_ns
                known = self._seen.get(path)
                if known is not None and known[0] == mtime and known[1] in self._searchable:
                    key, attributes = known[1], self._searchable[known[1]]
                else:
                    ds = pydicom.dcmread(path, stop_before_pixels=True)
                    key = InstanceKey(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
                                      str(ds.SOPInstanceUID))
                    attributes = SearchAttributes.of(ds)
            except (InvalidDicomError, AttributeError, OSError) as exc:
                log.warning("skipping %s: %s", path.name, type(exc).__name__)
                continue
            paths[key] = path
            searchable[key] = attributes
            seen[path] = (mtime, key)
        new = [key for key in paths if key not in self._paths]
        self._paths, self._searchable, self._seen = paths, searchable, seen
        log.info("indexed %d DICOM instances under %s", len(paths), self.root)
        return new

    def searchable(self) -> dict[InstanceKey, SearchAttributes]:
        return dict(self._searchable)

    def stamp(self, key: InstanceKey) -> int | None:
        """The file's modification time (ns): what a cached rendering of it depends on."""
        path = self._paths.get(key)
        try:
            return path.stat().st_mtime_ns if path is not None else None
        except OSError:
            return None

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
    return str(getattr(meta, "TransferSyntaxUID", ImplicitVRLittleEndian))


def is_encapsulated(ds: pydicom.Dataset) -> bool:
    return transfer_syntax(ds) not in UNCOMPRESSED


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
    """DICOM JSON of one instance as Google's metadata routes answer it: file meta
    included, every binary value a BulkDataURI under `instance_url`, DS as numbers,
    keys sorted (service/examples/google_json.py, checked against the shipped dump)."""
    try:
        return google_json.finish({**google_json.file_meta_json(ds),
                                   **google_json.element_json(ds)}, instance_url)
    except ValueError:
        # A binary value inside a sequence, which Google's URI scheme for nested values
        # is not modelled for: inline small values, point at top-level bulk data only.
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
