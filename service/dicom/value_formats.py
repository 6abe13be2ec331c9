"""DICOM value conversions to the service's JSON types (PS3.5 §6.2 value formats).

DA → "YYYY-MM-DD", TM → "HH:MM:SS[.ffffff]", DT → ISO 8601, PN → its DICOM
string form. A value that does not parse is returned as received, never dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

_DA_RE = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")
_TM_RE = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DT_RE = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?$")


def date_iso(text: str) -> str:
    """DA "20240312" → "2024-03-12"; an unparseable or impossible date is kept as is."""
    match = _DA_RE.match(text.strip())
    if not match:
        return text
    year, month, day = match.groups()
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return text
    return f"{year}-{month}-{day}"


def time_iso(text: str) -> str:
    """TM "101502.123" → "10:15:02.123"; missing minutes/seconds read as zero."""
    match = _TM_RE.match(text.strip())
    if not match:
        return text
    hours, minutes, seconds, fraction = match.groups()
    minutes = minutes or "00"
    seconds = seconds or "00"
    if int(hours) > 23 or int(minutes) > 59 or int(seconds) > 60:
        return text
    result = f"{hours}:{minutes}:{seconds}"
    return f"{result}.{fraction}" if fraction else result


def datetime_iso(text: str) -> str:
    """DT "20240312101502.5+0100" → "2024-03-12T10:15:02.5+01:00" (reduced precision kept)."""
    match = _DT_RE.match(text.strip())
    if not match:
        return text
    year, month, day, hours, minutes, seconds, fraction, offset = match.groups()
    result = year
    if month:
        result += f"-{month}"
    if day:
        result += f"-{day}"
    if hours:
        result += f"T{hours}:{minutes or '00'}"
        if seconds:
            result += f":{seconds}"
            if fraction:
                result += f".{fraction}"
    if offset:
        result += f"{offset[:3]}:{offset[3:]}"
    return result


def person_name(value: Any) -> str | None:
    """PN JSON object → "Alphabetic=Ideographic=Phonetic" with empty trailing groups dropped."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    groups = [value.get("Alphabetic", ""), value.get("Ideographic", ""),
              value.get("Phonetic", "")]
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


def decimal_number(value: Any) -> Any:
    """DS value (number or decimal string) → int or float; non-numeric text kept as is,
    and so is a number beyond the range of a float ("1e400"), as text."""
    if isinstance(value, str):
        number = _from_text(value, (int, float))
        return value if isinstance(number, float) and not math.isfinite(number) else number
    if isinstance(value, float) and type(value) is not float:
        number = float(value)  # ExactFloat → plain float for output
        return number if math.isfinite(number) else value.text  # type: ignore[attr-defined]
    return value


def integer_number(value: Any) -> Any:
    """IS/UV/SV value (number or integer string) → int."""
    if isinstance(value, str):
        return _from_text(value, (int,))
    if isinstance(value, float):
        return int(value)
    if isinstance(value, int) and type(value) is not int:
        return int(value)
    return value


def _from_text(value: str, parsers: tuple[Callable[[str], Any], ...]) -> Any:
    """The first parser's result that accepts the stripped text; blank → None; else as is."""
    text = value.strip()
    if not text:
        return None
    for parse in parsers:
        try:
            return parse(text)
        except ValueError:
            pass
    return value
