"""Query values of DA, TM and DT attributes, and their ranges, as comparable text.

Dates, times and datetimes compare as fixed-width text once padded: the low end
of a partial value with its earliest completion ("2024" → 20240101000000.000000),
the high end with its latest ("10" → 105959.999999). A single partial value is
the range it denotes (PS3.4 C.2.2.2.5). UTC offsets of DT values are dropped
(matching is in the local time of the stored data, as most archives do).
"""

from __future__ import annotations

import re

_DA = re.compile(r"^\d{8}$")
_TM = re.compile(r"^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$")
_DT = re.compile(r"^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?$")
_OFFSET = re.compile(r"[+-]\d{4}$")
_TM_LOW, _TM_HIGH = "000000.000000", "235959.999999"
_DT_LOW, _DT_HIGH = "00000101000000.000000", "99991231235959.999999"

TEMPORAL_VRS = ("DA", "TM", "DT")


def _clean(vr: str, text: str) -> str | None:
    """The value without separators, or None when it is not a valid value of the VR."""
    text = text.strip()
    if vr == "DA":
        text = text.replace("-", "") if len(text) == 10 and text[4] == "-" else text
        text = text.replace(".", "")  # old ACR-NEMA dates: YYYY.MM.DD
        return text if _DA.match(text) else None
    if vr == "TM":
        text = text.replace(":", "")
        return text if _TM.match(text) else None
    text = _OFFSET.sub("", text) if len(text) > 5 else text
    return text if _DT.match(text) else None


def _pad(vr: str, text: str, high: bool) -> str:
    if vr == "DA":
        return text
    template = (_TM_HIGH if high else _TM_LOW) if vr == "TM" else (_DT_HIGH if high else _DT_LOW)
    if high and vr == "DT" and len(text) in (4, 6):
        # The last day of a month depends on the month: "202402" ends on the 29th, but
        # any day number ≥ the real last day compares the same against stored dates.
        template = "00001231235959.999999"
    if "." in text and len(text) < len(template):
        digits = text.split(".")[1]
        return text + template[len(text):] if len(digits) < 6 else text
    return text + template[len(text):]


def comparable(vr: str, stored: str, *, high: bool = False) -> str | None:
    """A stored value as comparable text (None when it is not a valid value)."""
    cleaned = _clean(vr, stored)
    return None if cleaned is None else _pad(vr, cleaned, high)


def parse_range(vr: str, text: str) -> tuple[str | None, str | None, bool] | None:
    """A value or range "A-B", "A-", "-B" → (low, high, is_range); None if invalid.

    The '-' of a range is found by trying each one (a DT may hold a '-' UTC offset).
    """
    text = text.strip()
    single = _clean(vr, text)
    if single is not None:
        return _pad(vr, single, False), _pad(vr, single, True), False
    for index, char in enumerate(text):
        if char != "-":
            continue
        low_text, high_text = text[:index].strip(), text[index + 1:].strip()
        if not low_text and not high_text:
            return None
        low = _clean(vr, low_text) if low_text else ""
        high = _clean(vr, high_text) if high_text else ""
        if low is None or high is None:
            continue
        return (_pad(vr, low, False) if low else None, _pad(vr, high, True) if high else None,
                True)
    return None
