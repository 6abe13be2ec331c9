"""The client against the real service (the plugin's dicom_resolver: the app on loopback over
the shipped example study served by the emulator); pydicom reading the same .dcm files is
the oracle for pixels, volumes and geometry."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import orjson
import pydicom
import pytest
import requests
from dicom_resolver_client import (
    WINDOW_PRESETS,
    BadRequest,
    Client,
    NotFound,
    Unprocessable,
)
from PIL import Image
from pydicom.pixels import apply_modality_lut

from service.pixels.window import WINDOW_PRESETS as SERVICE_PRESETS


@pytest.fixture(scope="module")
def resolver(dicom_resolver):
    return dicom_resolver


@pytest.fixture(scope="module")
def ct_files(resolver) -> list[pydicom.Dataset]:
    """The CT slices the emulator serves, read by pydicom, by position along the normal."""
    datasets = [pydicom.dcmread(path) for path in
                sorted(Path(resolver.emulator.fixtures.dicom_dir).glob("*.dcm"))]
    ct = [ds for ds in datasets if ds.Modality == "CT"]
    return sorted(ct, key=lambda ds: float(np.dot(
        np.cross(ds.ImageOrientationPatient[:3], ds.ImageOrientationPatient[3:]),
        ds.ImagePositionPatient)))


@pytest.fixture(scope="module")
def ct_series(ct_files) -> tuple[str, str]:
    return str(ct_files[0].StudyInstanceUID), str(ct_files[0].SeriesInstanceUID)


def hu(ds: pydicom.Dataset) -> np.ndarray:
    return apply_modality_lut(ds.pixel_array, ds).astype(np.float32)


def test_search_pages_through_every_level(resolver, ct_series) -> None:
    client: Client = resolver.client
    study, series = ct_series
    assert [s["StudyInstanceUID"] for s in client.search_studies()] == resolver.study_uids
    assert [s["StudyInstanceUID"] for s in client.search_studies(PatientName="sumberg*")] == \
        resolver.study_uids
    assert list(client.search_studies(PatientName="NOBODY*")) == []
    all_series = list(client.search_series(study, page_size=1))
    assert sorted(s["SeriesInstanceUID"] for s in all_series) == resolver.series_uids
    one_page = list(client.search_instances(study, series, page_size=1000))
    paged = list(client.search_instances(study, series, page_size=5))
    assert paged == one_page and len(paged) == 24
    assert len({item["SOPInstanceUID"] for item in paged}) == 24


def test_study_series_instance_and_dicom_view(resolver, ct_series, ct_files) -> None:
    client: Client = resolver.client
    study, series = ct_series
    assert client.study(study)["StudyInstanceUID"] == study
    assert client.series(study, series)["NumberOfSeriesRelatedInstances"] == 24
    sop = str(ct_files[3].SOPInstanceUID)
    normalized = client.instance(study, series, sop)
    assert normalized["SOPInstanceUID"] == sop
    assert normalized["Rows"] == ct_files[3].Rows
    dump = orjson.loads(next(iter(resolver.emulator.fixtures.dumps.values())))
    as_ingested = next(item for item in dump if item["00080018"]["Value"] == [sop])
    assert client.instance(study, series, sop, view="dicom") == as_ingested


def test_pixels_are_pydicom_hounsfield_units(resolver, ct_series, ct_files) -> None:
    study, series = ct_series
    ds = ct_files[5]
    values = resolver.client.pixels(study, series, str(ds.SOPInstanceUID))
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, hu(ds))
    whole = resolver.client.pixels(study, series, str(ds.SOPInstanceUID), frame="all",
                                   dtype="int16")
    assert whole.dtype == np.int16 and whole.shape == (1, ds.Rows, ds.Columns)
    np.testing.assert_array_equal(whole[0], hu(ds))


def test_window_matches_the_services_png(resolver, ct_series, ct_files) -> None:
    assert WINDOW_PRESETS == {name: (float(c), float(w))
                              for name, (c, w) in SERVICE_PRESETS.items()}
    study, series = ct_series
    sop = str(ct_files[7].SOPInstanceUID)
    for window, query in (("lung", "lung"), ((40.0, 400.0), "40,400")):
        image = resolver.client.pixels(study, series, sop, window=window)
        png = requests.get(f"{resolver.url}/v1/studies/{study}/series/{series}/instances/"
                           f"{sop}/pixels", params={"format": "png", "window": query},
                           timeout=10)
        assert image.dtype == np.uint8
        np.testing.assert_array_equal(image, np.asarray(Image.open(io.BytesIO(png.content))))


def test_volume_is_the_sorted_pydicom_stack_with_its_lps_geometry(resolver, ct_series,
                                                                  ct_files) -> None:
    study, series = ct_series
    volume = resolver.client.volume(study, series)
    np.testing.assert_array_equal(volume.array, np.stack([hu(ds) for ds in ct_files]))
    assert volume.array.flags.c_contiguous and volume.array.flags.writeable
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in ct_files])
    np.testing.assert_allclose(volume.slice_positions, positions, atol=1e-4)
    first = ct_files[0]
    row_cosines = np.array(first.ImageOrientationPatient[:3], dtype=float)
    column_cosines = np.array(first.ImageOrientationPatient[3:], dtype=float)
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    # PS3.3 C.7.6.2.1.1: voxel (column i, row j) of the first slice in LPS.
    i, j, k = 17, 311, 9
    expected = positions[k] + row_cosines * column_spacing * i + column_cosines * row_spacing * j
    np.testing.assert_allclose(volume.lps(k, j, i), expected, atol=1e-4)
    geometry = resolver.client.geometry(study, series)
    assert geometry.is_volume and geometry.shape == volume.array.shape
    np.testing.assert_allclose(geometry.affine, volume.affine, atol=1e-6)
    np.testing.assert_allclose(volume.spacing, [positions[1][2] - positions[0][2],
                                                row_spacing, column_spacing], atol=1e-6)
    assert [s["sop_instance_uid"] for s in geometry.slices] == \
        [str(ds.SOPInstanceUID) for ds in ct_files]
    int16 = resolver.client.volume(study, series, dtype="int16")
    assert int16.array.dtype == np.int16
    np.testing.assert_array_equal(int16.array, volume.array)


def test_reports_and_tags(resolver) -> None:
    study = resolver.study_uids[0]
    reports = resolver.client.reports(study)
    sr = [ref for ref in resolver.instances if ref.modality == "SR"]
    assert [r["SOPInstanceUID"] for r in reports] == [ref.sop for ref in sr]
    assert resolver.client.tag("PatientName")["tag"] == "00100010"


def test_problems_are_raised_with_status_title_detail_and_field(resolver, ct_series) -> None:
    client: Client = resolver.client
    study, series = ct_series
    with pytest.raises(BadRequest) as bad:
        list(client.search_studies(StudyDate="yesterday"))
    assert bad.value.status == 400 and bad.value.field == "StudyDate"
    assert bad.value.title and bad.value.detail
    with pytest.raises(NotFound) as missing:
        client.study("1.2.3.4")
    assert missing.value.status == 404 and missing.value.type.endswith("/not-found")
    with pytest.raises(Unprocessable):
        client.volume(study, resolver.series_uids[0] if resolver.series_uids[0] != series
                      else resolver.series_uids[1])  # the SR series is no volume
    with pytest.raises(BadRequest) as invalid:
        client.ingest(b'[{"00080018": {"vr": "UI", "Value": ["not a uid"]}}]')
    assert invalid.value.errors and all("path" in error for error in invalid.value.errors)


def test_ingest_accepts_bytes_paths_json_and_gzip(resolver, tmp_path: Path) -> None:
    dump = next(iter(resolver.emulator.fixtures.dumps.values()))
    path = tmp_path / "dump.json"
    path.write_bytes(dump)
    for given, compress in ((dump, False), (path, True), (str(path), False),
                            (orjson.loads(dump), False)):
        result = resolver.client.ingest(given, compress=compress)
        assert result.unchanged == result.received == len(resolver.instances)
        assert result.studies == resolver.study_uids
    assert gzip.decompress(gzip.compress(dump)) == dump


def test_a_series_with_a_gap_is_refused_or_cut_to_its_largest_stack(
        ct_files, tmp_path: Path) -> None:
    from dicom_resolver_testing.stack import start_emulator, start_resolver

    folder = tmp_path / "gap"
    folder.mkdir()
    kept = [ds for index, ds in enumerate(ct_files) if index != 15]  # slices 0–14 and 16–23
    for ds in kept:
        ds.save_as(folder / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
    emulator = start_emulator(folder, tmp_path / "emulator")
    try:
        resolver = start_resolver(emulator, tmp_path / "service")
        try:
            study, series = str(kept[0].StudyInstanceUID), str(kept[0].SeriesInstanceUID)
            with pytest.raises(Unprocessable) as refused:
                resolver.client.volume(study, series)
            assert refused.value.errors
            volume = resolver.client.volume(study, series, strict=False)
            assert volume.array.shape[0] == 15 and volume.excluded_images > 0
            np.testing.assert_array_equal(volume.array, np.stack([hu(ds) for ds in kept[:15]]))
            np.testing.assert_allclose(volume.slice_positions, [[float(v) for v in
                                       ds.ImagePositionPatient] for ds in kept[:15]], atol=1e-4)
            geometry = resolver.client.geometry(study, series)
            assert not geometry.is_volume and geometry.excluded
        finally:
            resolver.stop()
    finally:
        emulator.stop()
