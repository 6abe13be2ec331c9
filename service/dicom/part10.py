"""DICOM Part 10 files from stored DICOM JSON, and their transfer syntax (PS3.10 §7, PS3.18 §F.2).

Pure: the BulkDataURI handler is injected (pydicom's `bulk_data_uri_handler`),
so fetching stays in the bulk-data layer. The File Meta Information comes from
the JSON's group 0002 where the dump has it (Google's exports do), and is built
otherwise: MediaStorageSOPClassUID/InstanceUID from the dataset, the transfer
syntax the Pixel Data is in, and this service as the implementation.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian

# This service as the writer of the files it rebuilds (PS3.7 §D.3.3.2; a 2.25 UUID UID).
IMPLEMENTATION_CLASS_UID = "2.25.224879390208888062243339708879871205638"
IMPLEMENTATION_VERSION_NAME = "DICOM_RESOLVER"
FILE_META_VERSION = b"\x00\x01"
PIXEL_DATA = 0x7FE00010

BulkDataHandler = Callable[[str, str, str], Any]


class Part10Error(ValueError):
    """The stored JSON (or a fetched value) cannot make a valid Part 10 file."""


def dataset_from_json(instance: dict[str, Any], bulk_data: BulkDataHandler, *,
                      fetched_syntax: Callable[[], str | None] = lambda: None) -> Dataset:
    """The instance as a pydicom Dataset with its file meta; every BulkDataURI through
    `bulk_data(tag, vr, uri)`. Without a stored (0002,0010), `fetched_syntax()` (asked once
    the values are fetched: the syntax the Pixel Data came labelled with) is used."""
    meta_json = {tag: value for tag, value in instance.items() if tag.startswith("0002")}
    body_json = {tag: value for tag, value in instance.items() if not tag.startswith("0002")}
    try:
        ds = Dataset.from_json(body_json, bulk_data_uri_handler=bulk_data)
        stored_meta = Dataset.from_json(meta_json, bulk_data_uri_handler=bulk_data)
    except (ValueError, TypeError, KeyError) as exc:
        # The exception's text may quote a value (a name, an ID): only its kind is told.
        raise Part10Error(f"the stored DICOM JSON cannot be read back by pydicom "
                          f"({type(exc).__name__})") from exc
    ds.file_meta = file_meta(ds, stored_meta, default_syntax=fetched_syntax())
    if PIXEL_DATA in ds and UID(ds.file_meta.TransferSyntaxUID).is_encapsulated:
        # Google's bulk data of compressed Pixel Data is the encapsulated item stream.
        ds[PIXEL_DATA].is_undefined_length = True
        ds[PIXEL_DATA].VR = "OB"
    return ds


def file_meta(ds: Dataset, stored: Dataset, *,
              default_syntax: str | None = None) -> FileMetaDataset:
    """Group 0002 as stored where present; the required elements built where not."""
    meta = FileMetaDataset()
    for element in stored:
        meta.add(element)
    meta.pop(0x00020000, None)  # the group length is recomputed on writing
    if not meta.get("FileMetaInformationVersion"):
        meta.FileMetaInformationVersion = FILE_META_VERSION
    if "MediaStorageSOPClassUID" not in meta and "SOPClassUID" in ds:
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
    if "MediaStorageSOPInstanceUID" not in meta and "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if "TransferSyntaxUID" not in meta:
        # JSON carries no encoding: the Pixel Data's own, else Explicit VR Little Endian.
        meta.TransferSyntaxUID = UID(default_syntax) if default_syntax else ExplicitVRLittleEndian
    if "ImplementationClassUID" not in meta:
        meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    for keyword in ("MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID"):
        if keyword not in meta:
            raise Part10Error(f"{keyword} cannot be built: the instance has no "
                              f"{keyword.removeprefix('MediaStorage')}")
    return meta


def to_explicit_little_endian(ds: Dataset) -> Dataset:
    """`ds` (changed in place) in Explicit VR Little Endian: compressed Pixel Data decoded
    by pydicom's decoders, big-endian pixels swapped; the SOP Instance UID is kept."""
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    if syntax == ExplicitVRLittleEndian:
        return ds
    if PIXEL_DATA in ds and syntax.is_encapsulated:
        try:
            ds.decompress(generate_instance_uid=False)
        except (RuntimeError, NotImplementedError, ValueError, AttributeError) as exc:
            # pydicom says which decoder is missing or failed; that text holds no values.
            raise Part10Error(f"Pixel Data in {syntax.name} cannot be decoded: {exc}") from exc
    elif PIXEL_DATA in ds and syntax == ExplicitVRBigEndian:
        values = ds.pixel_array
        ds.PixelData = values.astype(values.dtype.newbyteorder("<")).tobytes()
        if ds["PixelData"].VR == "OB or OW":
            ds["PixelData"].VR = "OW"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def write_part10(ds: Dataset) -> bytes:
    """`ds` as a Part 10 file (preamble, DICM, file meta) in its file meta's transfer syntax."""
    buffer = io.BytesIO()
    try:
        pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise Part10Error("the dataset cannot be written as a Part 10 file "
                          f"({type(exc).__name__})") from exc
    return buffer.getvalue()


def read_part10(data: bytes) -> Dataset:
    """A Part 10 file's dataset (Part10Error when it is not one)."""
    try:
        return pydicom.dcmread(io.BytesIO(data))
    except (pydicom.errors.InvalidDicomError, ValueError, EOFError, OSError) as exc:
        raise Part10Error(f"not a readable DICOM Part 10 file ({type(exc).__name__})") from exc


def stored_transfer_syntax(data: bytes) -> str | None:
    """The TransferSyntaxUID of a Part 10 file's meta, reading nothing past it."""
    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True,
                             specific_tags=["SOPInstanceUID"])
    except (pydicom.errors.InvalidDicomError, ValueError, EOFError, OSError):
        return None
    syntax = getattr(ds.file_meta, "TransferSyntaxUID", None)
    return str(syntax) if syntax else None


def explicit_little_endian_bytes(data: bytes) -> bytes:
    """A Part 10 file re-encoded in Explicit VR Little Endian (unchanged when it already is)."""
    if stored_transfer_syntax(data) == ExplicitVRLittleEndian:
        return data
    return write_part10(to_explicit_little_endian(read_part10(data)))

