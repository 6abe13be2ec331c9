"""GE Medical Systems private blocks of a CT slice.

Real GE CT slices carry GEMS_IDEN_01 (0009), GEMS_ACQU_01 (0019),
GEMS_RELA_01 (0021), GEMS_IMAG_01 (0027) and GEMS_PARM_01 (0043) blocks.
The VR of each element is taken from pydicom's private dictionary, so the
generated data says exactly what the dictionary (the oracle) expects.
The values are plausible for a LightSpeed-class helical chest scan.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
from pydicom import Dataset
from pydicom.datadict import get_private_entry

from .geometry import ImagePlan
from .spec import StudySpec

IDEN = "GEMS_IDEN_01"
ACQU = "GEMS_ACQU_01"
RELA = "GEMS_RELA_01"
IMAG = "GEMS_IMAG_01"
PARM = "GEMS_PARM_01"
# The group each creator's block lives in.
GROUPS = {IDEN: 0x0009, ACQU: 0x0019, RELA: 0x0021, IMAG: 0x0027, PARM: 0x0043}


def _add_block(ds: Dataset, creator: str, values: Mapping[int, object]) -> None:
    """Reserve `creator`'s block at (gggg,0010) and add `values` (offset → value).

    GE always uses the first private slot, so the block is written directly
    (pydicom's Dataset.private_block is correct but several times slower).
    """
    group = GROUPS[creator]
    ds.add_new((group << 16) | 0x0010, "LO", creator)
    for offset, value in values.items():
        vr = _private_vr(group, creator, offset)
        if vr == "FL":
            # Keep only float32 precision so the value survives a Part 10 round trip.
            value = _float32(value)
        ds.add_new((group << 16) | 0x1000 | offset, vr, value)


@functools.cache
def _private_vr(group: int, creator: str, offset: int) -> str:
    return str(get_private_entry((group << 16) | 0x1000 | offset, creator)[0])


def _float32(value: object) -> object:
    if isinstance(value, list):
        return [float(np.float32(v)) for v in value]
    if not isinstance(value, int | float | str):
        raise TypeError(f"an FL value must be a number, not {type(value).__name__}")
    return float(np.float32(value))


def add_series_private(ds: Dataset, spec: StudySpec, series_index: int) -> None:
    """The GE private elements that stay the same across a series."""
    first_z, last_z = _scan_range(spec)
    _add_block(ds, IDEN, {
        0x01: "GE_GENESIS_FF",
        0x02: "CTAWP",
        0x04: "LightSpeedVCT",
        0x30: "CT01_OC0",
        0x31: "",
        0xE3: "1.2.840.113619.1.22.42",  # GE's published equipment UID style, not a study UID
        0xE6: "07MW18.4",
        0xE7: 2207154611 + spec.seed % 1000,
        0xE9: 1710238502 + series_index,
    })
    _add_block(ds, ACQU, {
        0x02: 888, 0x03: "444.75", 0x04: "1.0", 0x0F: "1010.5", 0x11: 0,
        0x17: 2, 0x18: "S" if first_z > last_z else "I", 0x19: f"{first_z:.3f}",
        0x1A: "I" if first_z > last_z else "S", 0x1B: f"{last_z:.3f}",
        0x1E: f"{spec.field_of_view:.6f}", 0x23: "39.375", 0x25: 0, 0x26: 0,
        0x27: "0.5", 0x2C: 984, 0x2E: "292.5", 0x2F: "1968.0", 0x39: 3,
        0x40: 0, 0x41: 6, 0x42: 0, 0x43: 0, 0x44: "0.0", 0x47: 1, 0x4A: 0,
        0x4B: 3440640, 0x52: 0, 0x57: 0, 0x58: 0, 0x5E: 888, 0x5F: 1,
        0x60: 0, 0x61: 984, 0x62: 1, 0x6A: 0, 0x6B: 739, 0x70: 0, 0x71: 0,
        0x72: "7.5", 0x73: "82.3", 0x74: "1022.0", 0x75: "81.9", 0x76: "1019.0",
        0xDA: 0, 0xDB: "0.6875", 0xDC: 0, 0xDD: 0, 0xDE: "0.35",
    })
    _add_block(ds, RELA, {
        0x03: 1, 0x05: "07MW18.4", 0x07: 1300427201 + series_index,
        0x18: "07MW18.4", 0x19: 3511502941, 0x35: 1, 0x36: 1, 0x37: 1,
        0x4A: "" if not spec.localizer else "ANATOMICAL REFERENCE SCOUT",
        0x4F: spec.n_slices, 0x50: 0, 0x91: 0,
    })
    _add_block(ds, IMAG, {
        0x06: 0, 0x42: 0.0, 0x43: 10.0, 0x45: 0.0, 0x46: 0.0, 0x47: 1.0,
        0x50: first_z, 0x51: last_z, 0x52: "L", 0x53: "P",
        0x60: float(spec.field_of_view), 0x61: float(spec.field_of_view),
    })
    _add_block(ds, PARM, {
        0x10: 400, 0x11: 984, 0x12: [1, 1, 0], 0x13: [0, 1, 2, 3, 4],
        0x14: [5, 7, 1], 0x15: [984, 0, 1], 0x16: [0, 0, 0, 0, 0],
        0x17: "1.0", 0x18: ["0.0", "0.0", "0.0"], 0x19: 0, 0x1A: 0, 0x1B: 0,
        0x1C: 0, 0x1D: 40, 0x1F: 0, 0x20: "0.0", 0x21: 0,
        0x25: [0, 0, 0, 0, 0, 0], 0x26: [1, 0, 0, 0, 0, 0], 0x27: "0.984:1",
        0x28: b"GEMS-UIID" + bytes([spec.seed % 256, series_index % 256]) + b"\x00",
        0x2B: [4, 0, 0, 0], 0x31: ["0.0", "10.0"], 0x40: [0.0, 0.0, 0.0, 0.0],
        0x41: [0.0, 0.0, 0.0, 0.0], 0x42: [0, 0, 0, 0], 0x43: [0, 0, 0, 0],
        0x44: [0, 0, 0, 0], 0x4D: [0.0, 0.0, 0.0, 0.0], 0x4E: [0.0, 0.0, 0.0, 0.0],
        0x64: ["CT"], 0x6E: "SMART mA", 0x6F: ["0", "0", "0"],
    })


def add_image_private(ds: Dataset, spec: StudySpec, plan: ImagePlan, seconds: float) -> None:
    """The GE private elements that change from image to image."""
    _add_block(ds, IDEN, {0x27: 1710238502 + int(seconds)})
    _add_block(ds, ACQU, {0x24: f"{seconds:.3f}"})
    _add_block(ds, RELA, {0x20: f"{plan.slice_location:.4f}"})
    location = float(plan.slice_location)
    _add_block(ds, IMAG, {
        0x10: 1 if plan.is_localizer else 0,
        0x35: 8 if plan.is_localizer else 2,
        0x40: ("S" if location >= 0 else "I"),
        0x41: location,
        0x44: location,
    })


def _scan_range(spec: StudySpec) -> tuple[float, float]:
    step = spec.spacing_between_slices * (1.0 if spec.reverse_scan_direction else -1.0)
    return spec.first_slice_z, spec.first_slice_z + step * max(spec.n_slices - 1, 0)
