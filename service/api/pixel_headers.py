"""Pixel answers' X-* headers: rescale, spacing, position, orientation as lists of numbers.

Presentation of what the pixel use case (service.usecases.pixels) found; the
volume answers (service.api.geometry) write their numbers the same way.
"""

from __future__ import annotations

from typing import Any

from service.dicom.functional_groups import frame_item, functional_value
from service.usecases.pixels import InstancePixels


def describe_headers(pixels: InstancePixels) -> dict[str, str]:
    """X-Rescale-*, X-Pixel-Spacing, X-Image-Position/Orientation: comma-separated numbers.

    Rescale headers hold one value when every returned frame shares it, else one per
    frame; position is that of the first returned frame. Absent attributes are omitted.
    """
    headers: dict[str, str] = {}
    if pixels.rescales is None:
        headers["X-Modality-LUT"] = "applied"
    else:
        for name, field in (("X-Rescale-Slope", "slope"), ("X-Rescale-Intercept", "intercept")):
            values = [getattr(rescale, field) for rescale in pixels.rescales]
            headers[name] = numbers(values[:1] if len(set(values)) == 1 else values)
    frame = pixels.frames[0]
    for name, keyword, macro in (
            ("X-Pixel-Spacing", "PixelSpacing", "PixelMeasuresSequence"),
            ("X-Image-Position", "ImagePositionPatient", "PlanePositionSequence"),
            ("X-Image-Orientation", "ImageOrientationPatient", "PlaneOrientationSequence")):
        value = functional_value(pixels.attributes, frame_item(pixels.attributes, frame),
                                 macro, keyword)
        if value:
            headers[name] = numbers(value)
    return headers


def numbers(values: Any) -> str:
    """"-1024", "0.5,0.5": integral values without a fraction, others round-trippable."""
    items = values if isinstance(values, list | tuple) else [values]
    return ",".join(_number(item) for item in items)


def _number(value: Any) -> str:
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)
