"""Parsing and validation of path and query parameters; every error names the parameter."""

from __future__ import annotations

import re
from collections.abc import Mapping

from service.dicom.uids import is_identifier
from service.errors import BadRequest

_DATE_RE = re.compile(r"^\d{8}$")


def uid(value: str, name: str) -> str:
    """A UID path or query parameter: digits and dots, at most 64 characters (what ingest
    accepts as an instance's own UIDs: leading zeros too)."""
    if not is_identifier(value):
        raise BadRequest(f"{name} must be a DICOM UID (digits and dots, at most 64 "
                         f"characters)", parameter=name)
    return value


def levels(study: str, series: str | None = None,
           instance: str | None = None) -> tuple[str, str | None, str | None]:
    """The (study, series, instance) UIDs of a DICOMweb path that names a study, one of its
    series or one of their instances; the levels it does not name are None."""
    return (uid(study, "study"), None if series is None else uid(series, "series"),
            None if instance is None else uid(instance, "instance"))


def uid_list(value: str, name: str) -> list[str]:
    return [uid(item.strip(), name) for item in value.split(",") if item.strip()]


def integer(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer", parameter=name) from None
    if not low <= number <= high:
        raise BadRequest(f"{name} must be between {low} and {high}", parameter=name)
    return number


def page(args: Mapping[str, str], default_limit: int, max_limit: int) -> tuple[int, int]:
    return (integer(args, "limit", default_limit, 1, max_limit),
            integer(args, "offset", 0, 0, 2**31 - 1))


_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def date_range(value: str, name: str) -> tuple[str | None, str | None]:
    """"20240101", "2024-01-01", "20240101-20241231", "20240101-" or "-20241231"."""
    text = value.strip()
    iso = _ISO_DATE_RE.match(text)
    if iso:
        text = "".join(iso.groups())
    if _DATE_RE.match(text):
        return text, text
    low, sep, high = text.partition("-")
    if sep != "-" or (low and not _DATE_RE.match(low)) or (high and not _DATE_RE.match(high)) \
            or not (low or high):
        raise BadRequest(f"{name} must be YYYYMMDD or a range A-B, A- or -B", parameter=name)
    if low and high and low > high:
        raise BadRequest(f"{name} range starts after it ends", parameter=name)
    return low or None, high or None
