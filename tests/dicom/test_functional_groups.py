"""The one functional-group lookup: per-frame item, then shared item, then top level."""

from __future__ import annotations

from service.dicom.functional_groups import frame_item, functional_value, macro_items
from service.dicom.geometry import planes_of_instance
from service.pixels.modality import rescale_for_frame


def _enhanced() -> dict:
    return {
        "NumberOfFrames": 2,
        "ImagePositionPatient": [9.0, 9.0, 9.0],  # stray top-level value: must lose
        "SharedFunctionalGroupsSequence": [{
            "PixelValueTransformationSequence": [{"RescaleSlope": 2, "RescaleIntercept": -5}],
            "PlaneOrientationSequence": [{"ImageOrientationPatient": [1, 0, 0, 0, 1, 0]}],
        }],
        "PerFrameFunctionalGroupsSequence": [
            {"PlanePositionSequence": [{"ImagePositionPatient": [0, 0, 1]}]},
            {"PlanePositionSequence": [{"ImagePositionPatient": [0, 0, 2]}],
             "PixelValueTransformationSequence": [{"RescaleSlope": 1,
                                                   "RescaleIntercept": -1024}]},
        ],
    }


def test_per_frame_wins_over_shared_and_top_level() -> None:
    attrs = _enhanced()
    for frame, z in ((1, 1), (2, 2)):
        position = functional_value(attrs, frame_item(attrs, frame), "PlanePositionSequence",
                                    "ImagePositionPatient")
        assert position == [0, 0, z]
    planes = planes_of_instance("1.2", attrs)
    assert [plane.position for plane in planes] == [(0.0, 0.0, 1.0), (0.0, 0.0, 2.0)]


def test_shared_then_top_level() -> None:
    attrs = _enhanced()
    assert functional_value(attrs, frame_item(attrs, 1), "PlaneOrientationSequence",
                            "ImageOrientationPatient") == [1, 0, 0, 0, 1, 0]
    assert functional_value(attrs, None, "PixelMeasuresSequence", "Rows") is None
    attrs["Rows"] = 4
    assert functional_value(attrs, None, "PixelMeasuresSequence", "Rows") == 4


def test_rescale_sources_follow_the_same_order() -> None:
    attrs = _enhanced()
    first = rescale_for_frame(attrs, 1)
    assert (first.slope, first.source) == (2.0, "shared")
    assert (rescale_for_frame(attrs, 2).intercept,
            rescale_for_frame(attrs, 2).source) == (-1024.0, "per-frame")
    assert [source for _item, source in
            macro_items(attrs, frame_item(attrs, 2), "PixelValueTransformationSequence")] \
        == ["per-frame", "shared"]


def test_frame_item_out_of_range_or_malformed() -> None:
    attrs = _enhanced()
    assert frame_item(attrs, 0) is None and frame_item(attrs, 3) is None
    attrs["PerFrameFunctionalGroupsSequence"] = ["not an item"]
    assert frame_item(attrs, 1) is None
