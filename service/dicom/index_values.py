"""What the store's index columns hold for a value: the same on SQLite and PostgreSQL.

The stored DICOM JSON keeps every value as received; index columns exist for matching
and ordering only, so they hold a form both back ends accept and index:
- text without NUL characters (PostgreSQL refuses NUL in text), at most
  INDEX_TEXT_MAX characters (a longer value is indexed by that prefix: a PostgreSQL
  b-tree entry must stay under ~2,700 bytes, and a composite index holds two such
  values; 256 characters of up to 4 UTF-8 bytes each keep it there);
- integers within IS's range, PS3.5's 32 bits (the columns' type on both back ends);
  a value outside it is not indexed.
Searches pass their values through the same functions (see docs/ingest-policy.md).
"""

from __future__ import annotations

INDEX_TEXT_MAX = 256
INT32 = (-(2**31), 2**31 - 1)


def index_text(value: str | None) -> str | None:
    """The index form of a text value (None stays None; blank becomes None)."""
    if value is None:
        return None
    text = value.replace("\x00", "")[:INDEX_TEXT_MAX]
    return text or None


def is_indexed_text(value: str) -> bool:
    """Whether a value is its own index form (a search for it can be decided by SQL)."""
    return "\x00" not in value and len(value) <= INDEX_TEXT_MAX


def index_integer(value: int | None) -> int | None:
    if value is None or not INT32[0] <= value <= INT32[1]:
        return None
    return value
