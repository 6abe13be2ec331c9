"""GET …/volume and …/geometry through the app, the google-auth flow and the emulator.

Voxels are compared with pydicom's HU of each slice in the order numpy derives from the
datasets; NRRD is read back with pynrrd and NIfTI with nibabel, their affines checked
against the DICOM geometry.
"""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import nibabel
import nrrd
import numpy as np
import pytest
import requests
from werkzeug.serving import make_server

from service.pixels.volume_encode import LPS_TO_RAS
from tests.support.volume_oracle import oracle_affine, oracle_volume


def npy(response) -> np.ndarray:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return np.load(io.BytesIO(response.data))


@pytest.mark.parametrize("name", ["plain", "shuffled", "reversed", "oblique", "vary", "halves"])
def test_npy_volume_is_pydicom_hu_in_order_along_the_normal(client, corpus, name) -> None:  # type: ignore[no-untyped-def]
    response = client.get(corpus.series[name].url())
    volume = npy(response)
    expected, ordered = oracle_volume(corpus.series[name].datasets())
    assert volume.dtype == np.float32 and volume.shape == expected.shape
    np.testing.assert_array_equal(volume, expected.astype(np.float32))
    assert response.headers["Content-Type"] == "application/x-npy"
    assert response.headers["X-Shape"] == ",".join(map(str, expected.shape))
    assert int(response.headers["Content-Length"]) == len(response.data)
    origin = [float(v) for v in response.headers["X-Origin"].split(",")]
    assert origin == [float(v) for v in ordered[0].ImagePositionPatient]
    affine = oracle_affine(ordered)
    spacing = [float(v) for v in response.headers["X-Spacing"].split(",")]
    np.testing.assert_allclose(spacing, [np.linalg.norm(affine[:3, 2]),
                                         *map(float, ordered[0].PixelSpacing)], atol=1e-9)
    direction = np.array([float(v) for v in response.headers["X-Direction"].split(",")])
    normal = np.cross(direction[:3], direction[3:6])
    np.testing.assert_allclose(direction[6:], normal, atol=1e-4)  # positions have 4 decimals
    assert response.headers["X-Ordered-By"] == "position"


def test_int16_halves_the_transfer_and_keeps_the_values(client, corpus) -> None:  # type: ignore[no-untyped-def]
    series = corpus.series["shuffled"]
    floats = client.get(series.url())
    ints = client.get(series.url(dtype="int16"))
    volume = npy(ints)
    assert volume.dtype == np.int16
    np.testing.assert_array_equal(volume, oracle_volume(series.datasets())[0])
    header = 128  # npy 1.0 header of a small shape
    assert len(ints.data) - header == (len(floats.data) - header) // 2


@pytest.mark.parametrize("name", ["halves", "vary"])
def test_int16_of_non_integral_rescales_is_422_before_any_fetch(client, corpus, emulator,
                                                                name) -> None:  # type: ignore[no-untyped-def]
    response = client.get(corpus.series[name].url(dtype="int16"))
    assert response.status_code == 422
    problem = response.json
    assert problem["parameter"] == "dtype" and "sop_instance_uid" in problem
    assert not [r for r in emulator.requests if "/bulkdata/" in r.path]


def test_vary_rescale_uses_each_slices_own_rescale(client, corpus) -> None:  # type: ignore[no-untyped-def]
    datasets = corpus.series["vary"].datasets()
    assert len({(float(ds.RescaleSlope), float(ds.RescaleIntercept)) for ds in datasets}) > 1
    volume = npy(client.get(corpus.series["vary"].url()))
    first_slope_everywhere = np.stack([
        ds.pixel_array * float(datasets[0].RescaleSlope) + float(datasets[0].RescaleIntercept)
        for ds in oracle_volume(datasets)[1]])
    assert not np.array_equal(volume, first_slope_everywhere.astype(np.float32))


def test_multi_frame_enhanced_ct_is_a_volume(client, corpus) -> None:  # type: ignore[no-untyped-def]
    ds = corpus.series["enhanced"].datasets()[0]
    volume = npy(client.get(corpus.series["enhanced"].url()))
    z = [float(item.PlanePositionSequence[0].ImagePositionPatient[2])
         for item in ds.PerFrameFunctionalGroupsSequence]
    order = np.argsort(z)
    expected = []
    for index in order:
        transform = ds.PerFrameFunctionalGroupsSequence[index] \
            .PixelValueTransformationSequence[0]
        expected.append(ds.pixel_array[index].astype(np.float64) * float(transform.RescaleSlope)
                        + float(transform.RescaleIntercept))
    np.testing.assert_array_equal(volume, np.stack(expected).astype(np.float32))
    # Its frames' rescales are integral: int16 holds them exactly.
    ints = npy(client.get(corpus.series["enhanced"].url(dtype="int16")))
    np.testing.assert_array_equal(ints, np.stack(expected))


@pytest.mark.parametrize("name", ["plain", "oblique", "reversed"])
def test_nifti_opens_in_nibabel_with_the_ras_affine(client, corpus, tmp_path: Path,
                                                    name) -> None:  # type: ignore[no-untyped-def]
    response = client.get(corpus.series[name].url(), headers={"Accept": "application/x-nifti"})
    assert response.status_code == 200 and response.mimetype == "application/x-nifti"
    path = tmp_path / "volume.nii"
    path.write_bytes(response.data)
    image = nibabel.load(path)
    expected, ordered = oracle_volume(corpus.series[name].datasets())
    affine = LPS_TO_RAS @ oracle_affine(ordered)
    np.testing.assert_allclose(image.affine, affine, atol=1e-4)
    np.testing.assert_allclose(image.header.get_qform(), affine, atol=1e-4)
    assert image.header["sform_code"] == 1 and image.header["qform_code"] == 1
    # NIfTI's first axis is the column index: (i, j, k) = (column, row, slice).
    data = np.asarray(image.dataobj)
    np.testing.assert_array_equal(data.transpose(2, 1, 0), expected.astype(np.float32))
    # Voxel (0, 0, 0) is the first slice's ImagePositionPatient, in RAS.
    lps = np.array(ordered[0].ImagePositionPatient, float)
    np.testing.assert_allclose(nibabel.affines.apply_affine(image.affine, [0, 0, 0]),
                               lps * [-1, -1, 1], atol=1e-4)


@pytest.mark.parametrize("name", ["shuffled", "oblique"])
def test_nrrd_opens_in_pynrrd_with_lps_directions(client, corpus, tmp_path: Path, name) -> None:  # type: ignore[no-untyped-def]
    response = client.get(corpus.series[name].url(format="nrrd", dtype="int16"))
    assert response.status_code == 200 and response.mimetype == "application/x-nrrd"
    path = tmp_path / "volume.nrrd"
    path.write_bytes(response.data)
    data, header = nrrd.read(str(path))
    expected, ordered = oracle_volume(corpus.series[name].datasets())
    affine = oracle_affine(ordered)
    assert header["space"] == "left-posterior-superior" and data.dtype == np.int16
    np.testing.assert_allclose(header["space directions"], affine[:3, :3].T, atol=1e-9)
    np.testing.assert_allclose(header["space origin"], affine[:3, 3], atol=1e-9)
    np.testing.assert_array_equal(data.transpose(2, 1, 0), expected)


@pytest.mark.parametrize("name, reason", [
    ("gaps", "gap"), ("duplicates", "duplicate-position"), ("localizer", "localizer")])
def test_a_series_that_is_not_one_volume_is_422_naming_the_breakers(client, corpus, emulator,
                                                                    name, reason) -> None:  # type: ignore[no-untyped-def]
    response = client.get(corpus.series[name].url())
    assert response.status_code == 422
    problem = response.json
    assert reason in {error["reason"] for error in problem["errors"]}
    uids = {str(ds.SOPInstanceUID) for ds in corpus.series[name].datasets()}
    assert {error["sop_instance_uid"] for error in problem["errors"]} <= uids
    assert not [r for r in emulator.requests if "/bulkdata/" in r.path]


def test_strict_false_returns_the_largest_consistent_stack(client, corpus) -> None:  # type: ignore[no-untyped-def]
    datasets = corpus.series["localizer"].datasets()
    axial = [ds for ds in datasets if "LOCALIZER" not in list(ds.ImageType)]
    response = client.get(corpus.series["localizer"].url(strict="false"))
    np.testing.assert_array_equal(npy(response), oracle_volume(axial)[0].astype(np.float32))
    assert response.headers["X-Excluded-Images"] == "1"
    duplicates = client.get(corpus.series["duplicates"].url(strict="false"))
    assert npy(duplicates).shape[0] == 8


def test_geometry_reports_without_fetching_pixels(client, corpus, emulator) -> None:  # type: ignore[no-untyped-def]
    body = client.get(corpus.series["gaps"].url("geometry")).json
    assert body["is_volume"] is False and body["slice_spacing"]["uniform"] is False
    [gap] = body["gaps"]
    assert gap["missing_slices"] == 1 and gap["distance"] == pytest.approx(2.5)
    localizer = client.get(corpus.series["localizer"].url("geometry")).json
    assert sorted(o["images"] for o in localizer["orientations"]) == [1, 8]
    plain = client.get(corpus.series["plain"].url("geometry")).json
    expected, ordered = oracle_volume(corpus.series["plain"].datasets())
    assert plain["is_volume"] and plain["shape"] == list(expected.shape)
    assert [s["sop_instance_uid"] for s in plain["slices"]] == \
        [str(ds.SOPInstanceUID) for ds in ordered]
    np.testing.assert_allclose(plain["affine_lps"], oracle_affine(ordered), atol=1e-9)
    assert not [r for r in emulator.requests if "/bulkdata/" in r.path]


def test_unknown_series_is_404_and_bad_parameters_400_406(client, corpus) -> None:  # type: ignore[no-untyped-def]
    study, _ = corpus.series["plain"].uids
    assert client.get(f"/v1/studies/{study}/series/1.2.3/volume").status_code == 404
    assert client.get(f"/v1/studies/{study}/series/1.2.3/geometry").status_code == 404
    series = corpus.series["plain"]
    assert client.get(series.url(format="png")).status_code == 400
    assert client.get(series.url(strict="maybe")).status_code == 400
    assert client.get(series.url(frame="1")).status_code == 400
    assert client.get(series.url(), headers={"Accept": "image/png"}).status_code == 406


def test_upstream_429_of_a_slice_is_retried(client, corpus, emulator) -> None:  # type: ignore[no-untyped-def]
    series = corpus.series["plain"]
    emulator.inject("/bulkdata/", status=429, count=2)
    np.testing.assert_array_equal(npy(client.get(series.url())),
                                  oracle_volume(series.datasets())[0].astype(np.float32))


def test_a_failing_first_slice_is_a_problem_naming_it(client, corpus, emulator) -> None:  # type: ignore[no-untyped-def]
    series = corpus.series["plain"]
    _, ordered = oracle_volume(series.datasets())
    victim = str(ordered[0].SOPInstanceUID)
    emulator.inject(f"/instances/{victim}/bulkdata/", status=503, count=50)
    response = client.get(series.url())
    assert response.status_code == 502
    assert response.json["sop_instance_uid"] == victim and response.json["slice"] == 0


def test_a_slice_failing_mid_stream_aborts_the_body(make_app, corpus, emulator) -> None:  # type: ignore[no-untyped-def]
    app = make_app(volume_fetch_concurrency=2)
    series = corpus.series["plain"]
    _, ordered = oracle_volume(series.datasets())
    victim = str(ordered[6].SOPInstanceUID)
    emulator.inject(f"/instances/{victim}/bulkdata/", status=503, count=50)
    response = app.test_client().get(series.url())
    assert response.status_code == 200  # headers were sent with the first window
    with pytest.raises(Exception) as raised:
        response.get_data()
    assert getattr(raised.value, "extra", {}).get("sop_instance_uid") == victim


def test_the_pool_bounds_slices_in_flight(make_app, corpus, emulator) -> None:  # type: ignore[no-untyped-def]
    # Every fetch takes 0.2 s upstream: with 2 in flight, 8 slices need at least 4 rounds.
    app = make_app(volume_fetch_concurrency=2)
    series = corpus.series["shuffled"]
    emulator.inject("/bulkdata/", status=200, delay=0.2, count=8)
    started = time.perf_counter()
    npy(app.test_client().get(series.url()))
    assert time.perf_counter() - started >= 0.75
    assert len([r for r in emulator.requests if "/bulkdata/" in r.path]) == 8


def test_a_real_server_closes_the_connection_when_a_later_slice_fails(make_app, corpus,
                                                                       emulator) -> None:  # type: ignore[no-untyped-def]
    app = make_app(volume_fetch_concurrency=2)
    series = corpus.series["plain"]
    _, ordered = oracle_volume(series.datasets())
    emulator.inject(f"/instances/{ordered[5].SOPInstanceUID}/bulkdata/", status=503, count=50)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        response = requests.get(f"http://127.0.0.1:{server.server_port}{series.url()}",
                                stream=True, timeout=30)
        assert response.status_code == 200
        expected = int(response.headers["Content-Length"])
        received = bytearray()
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in response.iter_content(65536):
                received.extend(chunk)
        assert len(received) < expected
        response.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
