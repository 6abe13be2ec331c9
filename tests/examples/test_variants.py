"""The variant knobs: ordering, geometry and localizer, seen through pydicom."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom import Dataset

from service.examples.factory import StudySpec, make_study

BASE = {"n_slices": 8, "rows": 32, "columns": 32, "with_report": False}


def geometry(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(normal, position) of an image, computed from its header as a reader would."""
    orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
    normal = np.cross(orientation[:3], orientation[3:])
    return normal, np.array([float(v) for v in ds.ImagePositionPatient])


def scan_positions(datasets: list[Dataset]) -> list[float]:
    """Each image's position projected on its normal, in list (scan) order."""
    return [float(np.dot(*geometry(ds))) for ds in datasets]


def test_default_series_is_axial_contiguous_and_numbered_in_order() -> None:
    images = make_study(StudySpec(**BASE))
    assert [ds.InstanceNumber for ds in images] == list(range(1, 9))
    positions = scan_positions(images)
    assert np.allclose(np.diff(positions), -1.25)
    for ds, position in zip(images, positions, strict=True):
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert float(ds.SliceLocation) == pytest.approx(position)
        assert float(ds.SliceThickness) == 1.25
    assert len({ds.FrameOfReferenceUID for ds in images}) == 1


def test_reverse_scan_direction() -> None:
    positions = scan_positions(make_study(StudySpec(**BASE, reverse_scan_direction=True)))
    assert np.allclose(np.diff(positions), 1.25)


def test_shuffled_instance_numbers_keep_geometry() -> None:
    plain = make_study(StudySpec(**BASE))
    shuffled = make_study(StudySpec(**BASE, shuffle_instance_numbers=True))
    numbers = [ds.InstanceNumber for ds in shuffled]
    assert sorted(numbers) == list(range(1, 9)) and numbers != sorted(numbers)
    assert scan_positions(shuffled) == scan_positions(plain)


def test_oblique_slices_step_along_their_normal() -> None:
    images = make_study(StudySpec(**BASE, oblique_degrees=20.0))
    normal, first = geometry(images[0])
    assert normal[2] == pytest.approx(np.cos(np.radians(20)), abs=1e-5)
    assert float(images[0].GantryDetectorTilt) == 20.0
    for ds in images[1:]:
        step = geometry(ds)[1] - first
        # The offset between slices is parallel to the normal: no in-plane shift.
        assert np.linalg.norm(np.cross(step, normal)) < 1e-3
    assert np.allclose(np.abs(np.diff(scan_positions(images))), 1.25, atol=1e-3)


def test_missing_slices_leave_a_gap() -> None:
    images = make_study(StudySpec(**BASE, missing_slices=(3, 4)))
    assert len(images) == 6
    gaps = np.diff(scan_positions(images))
    assert sorted(np.round(np.abs(gaps), 4)) == [1.25] * 4 + [3.75]
    assert 4 not in [ds.InstanceNumber for ds in images]


def test_duplicate_positions_are_new_instances_at_the_same_place() -> None:
    images = make_study(StudySpec(**BASE, duplicate_positions=(2,)))
    assert len(images) == 9
    duplicate = images[-1]
    assert duplicate.InstanceNumber == 9
    assert duplicate.ImagePositionPatient == images[2].ImagePositionPatient
    assert duplicate.SOPInstanceUID != images[2].SOPInstanceUID
    assert len({ds.SOPInstanceUID for ds in images}) == 9


def test_localizer_is_an_extra_coronal_scout_in_the_series() -> None:
    images = make_study(StudySpec(**BASE, localizer=True))
    scout = images[-1]
    assert len(images) == 9
    assert list(scout.ImageType) == ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    assert scout.SeriesInstanceUID == images[0].SeriesInstanceUID
    normal, _ = geometry(scout)
    assert abs(normal[2]) < 1e-6  # its plane contains the z axis: not axial
    assert scout.InstanceNumber == 9
    # The scout covers the whole scanned range.
    scanned = [float(ds.ImagePositionPatient[2]) for ds in images[:-1]]
    top = float(scout.ImagePositionPatient[2])
    bottom = top - float(scout.PixelSpacing[0]) * (scout.Rows - 1)
    assert bottom < min(scanned) and max(scanned) < top


def test_several_series_share_the_frame_of_reference() -> None:
    images = make_study(StudySpec(**BASE, n_series=3))
    series = {ds.SeriesInstanceUID for ds in images}
    assert len(series) == 3
    assert {ds.ConvolutionKernel for ds in images} == {"STANDARD", "LUNG", "BONE"}
    assert len({ds.FrameOfReferenceUID for ds in images}) == 1
    assert len({ds.SeriesNumber for ds in images}) == 3


@pytest.mark.parametrize("fields", [
    {"modality": "PT"}, {"bits_stored": 10}, {"missing_slices": (99,)}, {"rescale_slope": 0},
])
def test_invalid_specs_are_refused(fields: dict) -> None:
    with pytest.raises(ValueError):
        StudySpec(**fields)
