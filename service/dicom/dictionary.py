"""Tag ↔ keyword/name/VR/VM look-ups, public and private, from pydicom's dictionaries.

Nothing here is hand-copied: pydicom's data dictionary (PS3.6) and its private
dictionaries are the source of truth. Look-ups are cached because ingest asks
the same few hundred tags thousands of times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pydicom.datadict import (
    DicomDictionary,
    get_entry,
    get_private_entry,
    tag_for_keyword,
)

_TAG_RE = re.compile(r"^[0-9A-Fa-f]{8}$")


@dataclass(frozen=True, slots=True)
class TagInfo:
    """What the dictionaries know of one tag."""

    tag: str  # "GGGGEEEE", upper case
    keyword: str | None
    name: str | None
    vr: str | None
    vm: str | None
    retired: bool
    private: bool
    repeater: bool = False  # from a repeating group (50xx, 60xx): keyword is shared

    def to_json(self) -> dict:
        return {
            "tag": self.tag,
            "keyword": self.keyword,
            "name": self.name,
            "vr": self.vr,
            "vm": self.vm,
            "retired": self.retired,
        }


def is_tag_key(text: str) -> bool:
    """True for 8 hex digits (either case), the DICOM JSON attribute key form."""
    return bool(_TAG_RE.match(text))


def parse_tag(text: str) -> int:
    """Parse "GGGGEEEE", "(gggg,eeee)", "gggg,eeee" or a keyword into a tag number.

    Raises ValueError naming the input when it is none of these.
    """
    cleaned = text.strip()
    if cleaned.startswith("(") and cleaned.endswith(")"):
        cleaned = cleaned[1:-1]
    cleaned = cleaned.replace(",", "").replace(" ", "")
    if is_tag_key(cleaned):
        return int(cleaned, 16)
    if cleaned.isidentifier():
        tag = tag_for_keyword(cleaned)
        if tag is not None:
            return tag
    raise ValueError(f"{text!r} is not a DICOM tag (8 hex digits) or keyword")


def tag_key(tag: int) -> str:
    return f"{tag:08X}"


def is_private(tag: int) -> bool:
    return bool((tag >> 16) & 1)


def is_private_creator(tag: int) -> bool:
    """(gggg,0010)–(gggg,00FF) of an odd group reserve a private block."""
    return is_private(tag) and 0x10 <= (tag & 0xFFFF) <= 0xFF


def private_creator_tag(tag: int) -> int:
    """The creator element that owns a private data element: (gggg,00bb) for (gggg,bbxx)."""
    return (tag & 0xFFFF0000) | ((tag >> 8) & 0xFF)


@lru_cache(maxsize=16384)
def lookup(tag: int) -> TagInfo | None:
    """Public (or repeating-group) dictionary entry of a tag, None when unknown or private."""
    key = tag_key(tag)
    if is_private(tag):
        if is_private_creator(tag):
            return TagInfo(key, None, "Private Creator", "LO", "1", False, True)
        return None
    if tag & 0xFFFF == 0:
        # Group length elements are retired from every group but 0002 and not in the
        # dictionary; name them so that dumps that carry them stay readable.
        entry = DicomDictionary.get(tag)
        if entry is None:
            return TagInfo(key, None, "Group Length", "UL", "1", True, False)
    entry = DicomDictionary.get(tag)
    if entry is not None:
        vr, vm, name, retired, keyword = entry
        return TagInfo(key, keyword or None, name, vr, vm, bool(retired), False)
    try:
        vr, vm, name, retired, keyword = get_entry(tag)
    except KeyError:
        return None
    return TagInfo(key, keyword or None, name, vr, vm, bool(retired), False, repeater=True)


@lru_cache(maxsize=16384)
def lookup_private(tag: int, creator: str) -> TagInfo | None:
    """A private tag resolved through its private creator in pydicom's private dictionaries."""
    if not is_private(tag) or is_private_creator(tag):
        return lookup(tag)
    try:
        vr, vm, name, retired = get_private_entry(tag, creator)
    except KeyError:
        return None
    return TagInfo(tag_key(tag), None, name, vr, vm, bool(retired), True)
