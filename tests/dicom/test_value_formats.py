"""DICOM value formats → the service's JSON types (PS3.5 §6.2)."""

import pytest

from service.dicom import value_formats


@pytest.mark.parametrize(("text", "expected"), [
    ("20240312", "2024-03-12"),
    ("2024.03.12", "2024-03-12"),  # ACR-NEMA form
    ("20241312", "20241312"),  # impossible month: kept as received
    ("2024", "2024"),
    ("not a date", "not a date"),
])
def test_date_iso(text: str, expected: str) -> None:
    assert value_formats.date_iso(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("101502.123", "10:15:02.123"),
    ("101502", "10:15:02"),
    ("1015", "10:15:00"),
    ("10", "10:00:00"),
    ("10:15:02", "10:15:02"),
    ("251502", "251502"),
    ("noon", "noon"),
])
def test_time_iso(text: str, expected: str) -> None:
    assert value_formats.time_iso(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("20240312101502.5+0100", "2024-03-12T10:15:02.5+01:00"),
    ("20240312101502", "2024-03-12T10:15:02"),
    ("202403121015", "2024-03-12T10:15"),
    ("20240312", "2024-03-12"),
    ("2024", "2024"),
    ("yesterday", "yesterday"),
])
def test_datetime_iso(text: str, expected: str) -> None:
    assert value_formats.datetime_iso(text) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ({"Alphabetic": "SUMBERG^ANDREW^^MR."}, "SUMBERG^ANDREW^^MR."),
    ({"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"},
     "Yamada^Tarou=山田^太郎=やまだ^たろう"),
    ({"Alphabetic": "A^B", "Phonetic": "a^b"}, "A^B==a^b"),
    ({"Ideographic": "山田"}, "=山田"),
    (None, None),
])
def test_person_name(value: dict | None, expected: str | None) -> None:
    assert value_formats.person_name(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("1.50", 1.5), (" -1024 ", -1024), (2.5, 2.5), ("", None), ("abc", "abc"), ("1e3", 1000.0),
])
def test_decimal_number(value: object, expected: object) -> None:
    result = value_formats.decimal_number(value)
    assert result == expected and type(result) is type(expected)
