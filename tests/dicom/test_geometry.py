"""service.dicom.geometry against geometry computed here from pydicom datasets with numpy.

Each case builds pydicom datasets (the generator's variants, or hand-made ones), passes
their normalized DICOM JSON through planes_of_instance/analyze_series, and compares the
order, spacing, gaps, duplicates and exclusions with what numpy derives from the datasets.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from service.dicom.geometry import (
    SeriesGeometry,
    analyze_series,
    planes_of_instance,
    position_along_normal,
    slice_normal,
)
from service.dicom.normalize import normalize_attributes
from service.examples.factory import StudySpec, make_study, to_google_json
from tests.support.volume_oracle import enhanced_ct, normal_of, oracle_affine


def analyze(datasets: list[pydicom.Dataset]) -> SeriesGeometry:
    planes = []
    for ds in datasets:
        attrs = normalize_attributes(to_google_json(ds))
        planes.extend(planes_of_instance(str(ds.SOPInstanceUID), attrs))
    return analyze_series(planes)


def series(**variant: Any) -> list[pydicom.Dataset]:
    values: dict[str, Any] = {"n_slices": 10, "rows": 8, "columns": 8, "with_report": False,
                              "with_pixels": False}
    spec = StudySpec(**{**values, **variant})
    return make_study(spec)


def offsets(datasets: list[pydicom.Dataset]) -> dict[str, float]:
    """Position of each dataset along the normal of the first one, computed with numpy."""
    normal = normal_of(datasets[0])
    return {str(ds.SOPInstanceUID): float(np.dot(np.array(ds.ImagePositionPatient, float),
                                                 normal)) for ds in datasets}


def is_localizer(ds: pydicom.Dataset) -> bool:
    return "LOCALIZER" in list(ds.ImageType)


@pytest.mark.parametrize("variant", [
    {}, {"shuffle_instance_numbers": True}, {"reverse_scan_direction": True},
    {"reverse_scan_direction": True, "shuffle_instance_numbers": True},
    {"oblique_degrees": 25.0, "shuffle_instance_numbers": True},
    {"oblique_degrees": -40.0, "reverse_scan_direction": True},
], ids=["plain", "shuffled", "reversed", "reversed-shuffled", "oblique", "oblique-reversed"])
def test_one_volume_is_ordered_ascending_along_the_normal(variant: dict[str, Any]) -> None:
    datasets = series(**variant)
    geometry = analyze(datasets)
    along = offsets(datasets)
    expected = sorted(along, key=along.__getitem__)
    assert [plane.sop_uid for plane in geometry.slices] == expected
    assert geometry.is_volume and geometry.ordered_by == "position"
    steps = np.diff(sorted(along.values()))
    assert geometry.spacing == pytest.approx(float(np.median(steps)), abs=1e-6)
    assert geometry.spacing == pytest.approx(1.25, abs=1e-3)
    by_uid = {str(ds.SOPInstanceUID): ds for ds in datasets}
    ordered = [by_uid[uid] for uid in expected]
    np.testing.assert_allclose(geometry.affine_lps(), oracle_affine(ordered), atol=1e-9)
    # The origin is the first slice's position; slices advance along +normal.
    assert geometry.slices[0].position == tuple(float(v) for v in ordered[0].ImagePositionPatient)
    assert np.dot(geometry.step_vector, normal_of(datasets[0])) > 0


def test_instance_numbers_do_not_decide_the_order() -> None:
    datasets = series(shuffle_instance_numbers=True)
    geometry = analyze(datasets)
    numbers = [plane.instance_number for plane in geometry.slices]
    assert numbers != sorted(numbers) and numbers != sorted(numbers, reverse=True)


def test_a_gap_is_reported_with_its_missing_count_and_splits_the_volume() -> None:
    datasets = series(missing_slices=(3, 4))
    geometry = analyze(datasets)
    along = offsets(datasets)
    ordered = sorted(along, key=along.__getitem__)
    steps = np.diff([along[uid] for uid in ordered])
    wide = int(np.argmax(steps))
    assert not geometry.is_volume
    assert len(geometry.gaps) == 1
    gap = geometry.gaps[0]
    assert (gap.after.sop_uid, gap.before.sop_uid) == (ordered[wide], ordered[wide + 1])
    assert gap.distance == pytest.approx(steps[wide]) and gap.missing == 2
    # The largest evenly spaced run is the volume; the other run is listed.
    runs = (ordered[:wide + 1], ordered[wide + 1:])
    longest = max(runs, key=len)
    assert [plane.sop_uid for plane in geometry.slices] == longest
    assert {item.plane.sop_uid for item in geometry.excluded} == set(ordered) - set(longest)
    assert {item.reason for item in geometry.excluded} == {"outside-run"}


def test_duplicate_positions_keep_the_lowest_instance_number() -> None:
    datasets = series(duplicate_positions=(2, 6))
    geometry = analyze(datasets)
    along = offsets(datasets)
    positions = {}
    for ds in datasets:
        positions.setdefault(round(along[str(ds.SOPInstanceUID)], 3), []).append(ds)
    repeated = [group for group in positions.values() if len(group) > 1]
    assert len(repeated) == 2 and len(geometry.duplicates) == 2
    for group in repeated:
        keep = min(group, key=lambda ds: int(ds.InstanceNumber))
        assert str(keep.SOPInstanceUID) in {plane.sop_uid for plane in geometry.slices}
    dropped = {str(ds.SOPInstanceUID) for group in repeated for ds in group
               if ds.InstanceNumber != min(int(d.InstanceNumber) for d in group)}
    assert {item.plane.sop_uid for item in geometry.excluded} == dropped
    assert {item.reason for item in geometry.excluded} == {"duplicate-position"}
    assert len(geometry.slices) == len(positions) and not geometry.gaps
    assert not geometry.is_volume


def test_a_localizer_is_excluded_and_named() -> None:
    datasets = series(localizer=True, shuffle_instance_numbers=True)
    geometry = analyze(datasets)
    localizers = [str(ds.SOPInstanceUID) for ds in datasets if is_localizer(ds)]
    assert len(localizers) == 1
    assert [(item.plane.sop_uid, item.reason) for item in geometry.excluded] == \
        [(localizers[0], "localizer")]
    axial = [ds for ds in datasets if not is_localizer(ds)]
    along = offsets(axial)
    assert [plane.sop_uid for plane in geometry.slices] == sorted(along, key=along.__getitem__)
    assert sorted(count for _, count in geometry.orientations) == [1, len(axial)]


def test_two_stacks_keep_the_larger_and_list_the_other() -> None:
    axial = series()
    sagittal = [copy.deepcopy(ds) for ds in series(seed=5, n_slices=4)]
    for ds in sagittal:
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        ds.SeriesInstanceUID = axial[0].SeriesInstanceUID
    other_size = copy.deepcopy(series(seed=6)[0])
    other_size.Rows = 16
    other_frame = copy.deepcopy(series(seed=7)[1])
    other_frame.FrameOfReferenceUID = generate_uid()
    geometry = analyze([*sagittal, *axial, other_size, other_frame])
    reasons = {item.plane.sop_uid: item.reason for item in geometry.excluded}
    assert {str(ds.SOPInstanceUID) for ds in sagittal} <= set(reasons)
    assert {reasons[str(ds.SOPInstanceUID)] for ds in sagittal} == {"different-orientation"}
    assert reasons[str(other_size.SOPInstanceUID)] == "different-size"
    assert reasons[str(other_frame.SOPInstanceUID)] == "different-frame-of-reference"
    assert {plane.sop_uid for plane in geometry.slices} == {str(ds.SOPInstanceUID)
                                                            for ds in axial}


def test_multi_frame_positions_come_from_the_per_frame_groups(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ds = pydicom.dcmread(enhanced_ct(tmp_path))
    geometry = analyze([ds])
    shared = ds.SharedFunctionalGroupsSequence[0]
    orientation = np.array(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
    normal = np.cross(orientation[:3], orientation[3:])
    along = [float(np.dot(np.array(item.PlanePositionSequence[0].ImagePositionPatient, float),
                          normal)) for item in ds.PerFrameFunctionalGroupsSequence]
    assert [plane.frame for plane in geometry.slices] == [int(i) + 1 for i in np.argsort(along)]
    assert geometry.is_volume
    assert geometry.spacing == pytest.approx(float(np.median(np.diff(sorted(along)))))
    assert geometry.slices[0].pixel_spacing == tuple(
        float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing)


def test_without_positions_the_order_falls_back_to_instance_number() -> None:
    datasets = series(shuffle_instance_numbers=True)
    for ds in datasets:
        del ds.ImagePositionPatient
    geometry = analyze(datasets)
    assert geometry.ordered_by == "InstanceNumber"
    assert [plane.instance_number for plane in geometry.slices] == \
        sorted(int(ds.InstanceNumber) for ds in datasets)
    assert geometry.affine_lps() is None


def test_without_positions_and_unique_numbers_slice_location_orders() -> None:
    datasets = series(shuffle_instance_numbers=True)
    for ds in datasets:
        del ds.ImagePositionPatient
        ds.InstanceNumber = 1
    geometry = analyze(datasets)
    assert geometry.ordered_by == "SliceLocation"
    assert [plane.slice_location for plane in geometry.slices] == \
        sorted(float(ds.SliceLocation) for ds in datasets)


def test_images_without_a_position_among_placed_ones_are_excluded() -> None:
    datasets = series()
    del datasets[4].ImagePositionPatient
    geometry = analyze(datasets)
    reasons = {item.plane.sop_uid: item.reason for item in geometry.excluded}
    assert reasons[str(datasets[4].SOPInstanceUID)] == "no-position"
    # Without it the others have a hole where it was: one missing slice.
    assert [gap.missing for gap in geometry.gaps] == [1]


def test_a_multi_frame_without_per_frame_positions_is_not_placed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ds = pydicom.dcmread(enhanced_ct(tmp_path))
    for item in ds.PerFrameFunctionalGroupsSequence:
        del item.PlanePositionSequence
    ds.PerFrameFunctionalGroupsSequence = Sequence(list(ds.PerFrameFunctionalGroupsSequence))
    geometry = analyze([ds])
    assert geometry.ordered_by == "InstanceNumber"
    assert [plane.frame for plane in geometry.slices] == list(range(1, 6))


@pytest.mark.parametrize("orientation", [
    [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 0, -1], [1, 0, 0, 0, 0.8660254, -0.5],
    [0.6, 0.8, 0, -0.8, 0.6, 0],
])
def test_slice_normal_and_position_match_numpy(orientation: list[float]) -> None:
    position = [12.5, -7.25, 103.0]
    normal = np.cross(orientation[:3], orientation[3:])
    np.testing.assert_allclose(slice_normal(orientation), normal)
    assert position_along_normal(position, orientation) == pytest.approx(
        float(np.dot(position, normal)))
    assert slice_normal([1, 0, 0]) is None and position_along_normal(None, orientation) is None
