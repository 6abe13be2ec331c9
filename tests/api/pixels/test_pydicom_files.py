"""Every pydicom test file with pixel data, through the real /pixels route.

The table is pydicom's own set (`pydicom.data.get_testdata_files()`), filtered to the
files with Pixel Data that pydicom itself decodes here. Each file is copied with fresh
Study/Series/SOP Instance UIDs (several share UIDs: the MR_small variants are one image
in different transfer syntaxes), the emulator serves the copies, the store ingests their
Google-style JSON, and the pixels of every frame (`frame=all`, npy) must equal pydicom's
`pixel_array` of the copy after its modality transformation
(`pydicom.pixels.apply_modality_lut`), as float32; colour images as RGB samples, as
pixel_array gives them. Frame 1 as PNG (the route's other representation of an image)
must be a PNG of the image's size, RGB exactly when the image has three samples.

pydicom's set holds no Float Pixel Data, which the service refuses (422, as openapi.yaml
says): the table has one more row, such an image written here, and asserts that refusal.
PALETTE COLOR images are answered as their stored indices, as pixel_array gives them (the
palette is not applied, in PNG either).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from pydicom.data import get_testdata_files
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut
from pydicom.uid import UID, generate_uid

from service.emulator.server import Emulator
from service.examples.factory import to_google_json
from service.usecases.pixels import FLOAT_PIXEL_DATA
from tests.support.dcm_files import file_dataset
from tests.support.emulated import (
    emulated_app,
    emulated_settings,
    emulator_credentials,
    new_account,
)


def _decodable(path: str) -> bool:
    """Whether pydicom reads the file and decodes its Pixel Data here (the oracle exists)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
            if "PixelData" not in ds:
                return False
            ds.pixel_array  # noqa: B018 (decoding is the check)
    except Exception:  # noqa: BLE001 (any failure of pydicom's means: no oracle)
        return False
    return True


PYDICOM_FILES = sorted((path for path in get_testdata_files() if _decodable(path)),
                       key=lambda path: Path(path).name)
# pydicom's set holds no Float Pixel Data; one such image is written here (pydicom decodes
# it, so the service's refusal is a choice, asserted as documented).
FLOAT_IMAGE = "float-pixel-data (written by the test)"
TABLE = [*PYDICOM_FILES, FLOAT_IMAGE]
# Rows the service refuses on purpose: (status, the problem's detail) as openapi.yaml says.
REFUSED: dict[str, tuple[int, str]] = {FLOAT_IMAGE: (422, FLOAT_PIXEL_DATA)}


def _label(path: str) -> str:
    return Path(path).name if path != FLOAT_IMAGE else "float-pixel-data"


def _write_float_image(folder: Path) -> Path:
    """A 4×5 Float Pixel Data (7FE0,0008) image in Explicit VR Little Endian."""
    ds = file_dataset("1.2.840.10008.5.1.4.1.1.30", rows=4, columns=5)  # Parametric Map
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.BitsAllocated = "OT", 32
    del ds.BitsStored, ds.HighBit, ds.PixelRepresentation  # not in a float image
    ds.FloatPixelData = np.linspace(-1.5, 2.5, 20, dtype="<f4").tobytes()
    path = folder / "float-pixel-data.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@dataclass(frozen=True)
class Served:
    """One copy the emulator serves: where it is and its (fresh) UIDs."""

    name: str
    path: Path
    study_uid: str
    series_uid: str
    sop_uid: str

    def url(self, query: str) -> str:
        return (f"/v1/studies/{self.study_uid}/series/{self.series_uid}"
                f"/instances/{self.sop_uid}/pixels?{query}")


def _replace_invalid_nested_uids(ds: pydicom.Dataset) -> None:
    """Fresh UIDs for non-conformant ones inside sequences (rtdose*.dcm refer to a plan as
    1.2.3.4.5.6.7.8.9.0123…, a leading zero). Whether a dump with such a reference is
    accepted is the ingest's leniency policy, tested with the ingest; here it would only
    keep those files' pixels from being tested."""
    for element in ds:
        if element.VR != "SQ":
            continue
        for item in element.value:
            for nested in item:
                if nested.VR == "UI" and nested.value and not all(
                        UID(value).is_valid for value in _values(nested.value)):
                    nested.value = generate_uid()
            _replace_invalid_nested_uids(item)


def _values(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list | MultiValue) \
        else [str(value)]


def _copy_with_fresh_uids(source: str, folder: Path, index: int) -> Served:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(source)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        _replace_invalid_nested_uids(ds)
        # Element VRs from the dictionary where the file's body is implicit VR despite an
        # explicit transfer syntax (SC_rgb_jpeg.dcm): the copy is written as its syntax says.
        for _ in ds.iterall():
            pass
        path = folder / f"{index:03d}-{Path(source).name.removesuffix('.dcm')}.dcm"
        ds.save_as(path)  # in the file's transfer syntax, Pixel Data bytes as they were
    return Served(Path(source).name, path, str(ds.StudyInstanceUID),
                  str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Served]:
    """Every row of TABLE as a file in one folder, by row."""
    folder = tmp_path_factory.mktemp("pydicom-files")
    written = _write_float_image(tmp_path_factory.mktemp("generated"))
    sources = [str(written) if row == FLOAT_IMAGE else row for row in TABLE]
    return {row: _copy_with_fresh_uids(source, folder, index)
            for index, (row, source) in enumerate(zip(TABLE, sources, strict=True))}


BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


def _without_nested_binary(ds: pydicom.Dataset) -> pydicom.Dataset:
    """`ds` without binary values inside sequences (icons, private blobs): the generator
    of Google's JSON models BulkDataURIs of top-level values only, and pixels need none."""
    for element in ds:
        if element.VR == "SQ":
            for item in element.value:
                for nested in list(item):
                    if nested.VR in BINARY_VRS:
                        del item[nested.tag]
                _without_nested_binary(item)
    return ds


@pytest.fixture(scope="module")
def corpus_client(served: dict[str, Served], module_database_url: str) -> Iterator[FlaskClient]:
    """One emulator over the copies and one app whose store holds all their JSON."""
    account = new_account()
    folder = next(iter(served.values())).path.parent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dump = [to_google_json(_without_nested_binary(pydicom.dcmread(copy.path)))
                for copy in served.values()]
    with Emulator(folder, account=account) as emulator:
        settings = emulated_settings(emulator, database_url=module_database_url,
                                     migrate_on_start=True)
        app: Flask = emulated_app(settings, credentials=emulator_credentials(emulator),
                                  dumps=[dump])
        try:
            yield app.test_client()
        finally:
            app.extensions["bulkdata"].close()
            app.extensions["engine"].dispose()


def _oracle(path: Path) -> np.ndarray:
    """pydicom's modality values of every frame, shaped (frames, rows, columns[, samples])."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        values: Any = apply_modality_lut(ds.pixel_array, ds)
    samples = int(ds.get("SamplesPerPixel") or 1)
    frames = int(ds.get("NumberOfFrames") or 1)
    return np.asarray(values).reshape(frames, *values.shape[-3 + (samples == 1):])


@pytest.mark.parametrize("row", TABLE, ids=_label)
def test_pixels_equal_pydicom(row: str, served: dict[str, Served],
                              corpus_client: FlaskClient) -> None:
    copy = served[row]
    answer = corpus_client.get(copy.url("frame=all&format=npy"))
    expected = _oracle(copy.path)  # pydicom decodes every row, refused ones included
    if row in REFUSED:
        status, detail = REFUSED[row]
        assert answer.status_code == status, answer.get_data(as_text=True)[:500]
        assert answer.mimetype == "application/problem+json"
        assert answer.get_json()["detail"] == detail
        return
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    got = np.load(io.BytesIO(answer.data))
    assert got.dtype == np.float32
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected.astype(np.float32))

    png = corpus_client.get(copy.url("frame=1&format=png"))
    assert png.status_code == 200, png.get_data(as_text=True)[:500]
    with Image.open(io.BytesIO(png.data)) as image:
        assert image.format == "PNG"
        assert image.size == (expected.shape[2], expected.shape[1])
        assert image.mode == ("RGB" if expected.ndim == 4 else "L")


def test_the_table_covers_pydicom_files() -> None:
    """Guard against a filter that silently drops most of the set (e.g. a missing decoder)."""
    assert len(PYDICOM_FILES) >= 80

