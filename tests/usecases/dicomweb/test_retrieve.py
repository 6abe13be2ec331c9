"""The retrieve use case against the emulator: Part 10 files rebuilt from Google-style DICOM
JSON (every BulkDataURI fetched through the bulk-data client) read back in pydicom with the
attributes and pixels of the original file; and which instances Google's retrieve serves."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from service.bulkdata.client import BulkDataClient
from service.emulator.server import Emulator
from service.errors import Unprocessable
from service.examples.factory import to_google_json
from service.examples.shipped import load_example_dump
from service.store.metadata import InstanceKey, instance_keys
from service.usecases.dicomweb.retrieve import (
    AS_STORED,
    RetrieveQuery,
    google_instance_url,
    open_retrieve,
    rebuild_instance,
)
from tests.support.emulated import close_app, emulated_app, emulated_settings, emulator_credentials
from tests.support.part10 import assert_same_instance


def _rebuilt(client: BulkDataClient, path: Path, syntax: str) -> tuple[pydicom.Dataset, str]:
    original = pydicom.dcmread(path)
    instance = to_google_json(original)
    key = InstanceKey(str(original.SeriesInstanceUID), str(original.SOPInstanceUID))
    result = rebuild_instance(client, instance, key, syntax)
    assert result.source == "rebuilt" and result.sop_uid == key.sop_uid
    return pydicom.dcmread(io.BytesIO(result.data)), result.transfer_syntax_uid


def test_every_file_is_rebuilt_as_stored(client: BulkDataClient, dicom_files: list[Path],
                                         emulator: Emulator) -> None:
    assert len(dicom_files) == 25 + 7
    for path in dicom_files:
        emulator.clear_log()
        got, syntax = _rebuilt(client, path, AS_STORED)
        original = pydicom.dcmread(path)
        assert syntax == original.file_meta.TransferSyntaxUID == got.file_meta.TransferSyntaxUID
        assert_same_instance(got, original)
        # The file meta is the dump's group 0002, (0002,0001) fetched as bulk data.
        for element in original.file_meta:
            if element.tag != 0x00020000:
                assert got.file_meta[element.tag].value == element.value, element.keyword
        fetched = {r.path.rsplit("/", 1)[-1] for r in emulator.requests}
        assert "00020001" in fetched
        assert ("7FE00010" in fetched) == ("PixelData" in original)


def test_every_file_is_rebuilt_in_explicit_little_endian(client: BulkDataClient,
                                                         dicom_files: list[Path]) -> None:
    for path in dicom_files:
        got, syntax = _rebuilt(client, path, ExplicitVRLittleEndian)
        original = pydicom.dcmread(path)
        assert syntax == ExplicitVRLittleEndian == got.file_meta.TransferSyntaxUID
        if original.file_meta.TransferSyntaxUID.is_encapsulated and \
                original.PhotometricInterpretation.startswith("YBR"):
            # pydicom's decoder converts YCbCr to RGB: compare with what it decodes.
            original.decompress(generate_instance_uid=False)
        assert_same_instance(got, original, same_encoding=False)


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, RLELossless, JPEG2000Lossless])
def test_file_meta_is_built_when_the_dump_has_none(client: BulkDataClient,
                                                   dicom_files: list[Path], syntax: str) -> None:
    """Without group 0002 in the JSON, the transfer syntax is the one the Pixel Data answer
    was labelled with (Google's bulkdata says it), and this service is the implementation."""
    original = next(ds for ds in (pydicom.dcmread(path) for path in dicom_files)
                    if ds.file_meta.TransferSyntaxUID == syntax)
    instance = {tag: value for tag, value in to_google_json(original).items()
                if not tag.startswith("0002")}
    key = InstanceKey(str(original.SeriesInstanceUID), str(original.SOPInstanceUID))
    got = pydicom.dcmread(io.BytesIO(rebuild_instance(client, instance, key, AS_STORED).data))
    meta = got.file_meta
    assert meta.MediaStorageSOPClassUID == original.SOPClassUID
    assert meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID
    assert meta.TransferSyntaxUID == syntax
    assert meta.ImplementationClassUID == "2.25.224879390208888062243339708879871205638"
    assert_same_instance(got, original)


def test_a_refused_bulkdata_uri_is_a_problem(client: BulkDataClient,
                                             dicom_files: list[Path]) -> None:
    original = pydicom.dcmread(dicom_files[1])
    instance = to_google_json(original)
    instance["7FE00010"]["BulkDataURI"] = "https://evil.example/pixels"
    key = InstanceKey(str(original.SeriesInstanceUID), str(original.SOPInstanceUID))
    with pytest.raises(Unprocessable, match="allowlist"):
        rebuild_instance(client, instance, key, AS_STORED)


@pytest.mark.parametrize(("uri", "expected"), [
    ("https://healthcare.googleapis.com/v1/projects/p/locations/l/datasets/d/dicomStores/s/"
     "dicomWeb/studies/1.2/series/1.3/instances/1.4/bulkdata/7FE00010",
     "https://healthcare.googleapis.com/v1/projects/p/locations/l/datasets/d/dicomStores/s/"
     "dicomWeb/studies/1.2/series/1.3/instances/1.4"),
    # another instance's URI, another host, another shape: not this instance in a Google store
    ("https://healthcare.googleapis.com/v1/projects/p/locations/l/datasets/d/dicomStores/s/"
     "dicomWeb/studies/1.2/series/1.3/instances/1.5/bulkdata/7FE00010", None),
    ("https://pacs.example/dicomWeb/studies/1.2/series/1.3/instances/1.4/bulkdata/7FE00010",
     None),
    ("https://healthcare.googleapis.com/somewhere/7FE00010", None),
    ("https://[not-ipv6/dicomWeb/studies/1.2/series/1.3/instances/1.4/bulkdata/7FE00010", None),
])
def test_google_instance_url(uri: str, expected: str | None) -> None:
    instance = {"00080018": {"vr": "UI", "Value": ["1.4"]},
                "7FE00010": {"vr": "OW", "BulkDataURI": uri}}
    assert google_instance_url(instance, "1.4") == expected
    assert google_instance_url({"7FE00010": {"vr": "OW", "InlineBinary": "AAA="}}, "1.4") is None


@pytest.fixture
def example_app(emulator: Emulator, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The service's app with the shipped example dump ingested, pixels from the emulator."""
    settings = emulated_settings(emulator, database_url=f"sqlite:///{tmp_path / 's.sqlite3'}")
    app = emulated_app(settings, credentials=emulator_credentials(emulator),
                       dumps=[load_example_dump()])
    yield app
    close_app(app)


def test_example_study_from_the_store_is_byte_exact_and_in_order(
        example_app, dicom_files: list[Path], emulator: Emulator) -> None:  # type: ignore[no-untyped-def]
    files = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p.read_bytes()
             for p in dicom_files}
    study_uid = load_example_dump()[0]["0020000D"]["Value"][0]
    engine, client = example_app.extensions["engine"], example_app.extensions["bulkdata"]
    emulator.clear_log()
    pool = open_retrieve(engine, client, RetrieveQuery(study_uid, transfer_syntax=AS_STORED),
                         window=3)
    # Bounded: before anything is handed out, only the first window was fetched.
    assert len([r for r in emulator.requests if "/instances/" in r.path]) == 3
    got = list(pool)
    assert [g.sop_uid for g in got] == [k.sop_uid for k in instance_keys(engine, study_uid)]
    assert len(got) == 25
    for instance in got:
        assert instance.source == "store"
        assert instance.data == files[instance.sop_uid]


def test_example_study_in_explicit_little_endian_is_passed_through(
        example_app, dicom_files: list[Path]) -> None:  # type: ignore[no-untyped-def]
    """Stored Explicit VR Little Endian: the default answer is the stored file, untouched."""
    files = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p.read_bytes()
             for p in dicom_files}
    study_uid = load_example_dump()[0]["0020000D"]["Value"][0]
    engine, client = example_app.extensions["engine"], example_app.extensions["bulkdata"]
    for instance in open_retrieve(engine, client, RetrieveQuery(study_uid), window=4):
        assert instance.transfer_syntax_uid == ExplicitVRLittleEndian
        assert instance.data == files[instance.sop_uid]
