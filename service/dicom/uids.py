"""UIDs as the service reads them: conformance (PS3.5 §9.1), padding, and identifiers.

A UI value is conformant when it is at most 64 characters of dot-separated numbers
without leading zeros. Non-conformant values are common in real exports (leading
zeros in references, PS3.5 trailing padding) and are kept as received with a
warning; only an instance's own Study/Series/SOP Instance UIDs must serve as
identifiers: in index columns, URLs and QIDO-RS matching (see docs/ingest-policy.md).
"""

from __future__ import annotations

import re

from service.dicom import tags

MAX_LENGTH = 64  # PS3.5 Table 6.2-1
# An instance's own UIDs: its identifiers in the store, URLs and searches.
IDENTIFYING = ((tags.STUDY_INSTANCE_UID, "StudyInstanceUID"),
               (tags.SERIES_INSTANCE_UID, "SeriesInstanceUID"),
               (tags.SOP_INSTANCE_UID, "SOPInstanceUID"))
PADDING = " \x00"  # PS3.5 §6.2: UI is padded with NUL; exporters also leave spaces

# \Z, not $: "$" also matches before a final newline, and "1.2.3\n" is no UID.
CONFORMANT_RE = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*\Z")
# What an identifier may be: what QIDO-RS and the URL routes accept as a UID.
_IDENTIFIER_RE = re.compile(r"[0-9]+(\.[0-9]+)*\Z")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def is_conformant(text: str) -> bool:
    return len(text) <= MAX_LENGTH and bool(CONFORMANT_RE.match(text))


def is_identifier(text: str) -> bool:
    """Digits and dots, no empty component, at most 64 characters (leading zeros allowed)."""
    return len(text) <= MAX_LENGTH and bool(_IDENTIFIER_RE.match(text))


def unpadded(text: str) -> str:
    """The value without its trailing PS3.5 padding (spaces and NULs)."""
    return text.rstrip(PADDING)


def nonconformance(text: str) -> str | None:
    """Why a UI value is not conformant (a warning's detail), or None when it is."""
    if is_conformant(text):
        return None
    value = unpadded(text)
    if value != text and is_conformant(value):
        return "UI value has trailing padding (space or NUL); read without it"
    if len(value) > MAX_LENGTH:
        return f"UI value is longer than {MAX_LENGTH} characters; kept as received"
    return ("UI value is not dot-separated digits without leading zeros (PS3.5 §9.1); "
            "kept as received")


def identifier_error(name: str, value: str) -> str | None:
    """The error detail for an instance's own UID `name` received as `value`, or None."""
    problem = identifier_problem(unpadded(value))
    return f"{name} {problem}; an instance's own UIDs must serve as identifiers" \
        if problem else None


def identifier_problem(text: str) -> str | None:
    """Why an instance's own UID (padding removed) cannot serve as an identifier, or None."""
    if is_identifier(text):
        return None
    if not text:
        return "is empty"
    if _CONTROL_RE.search(text):
        return "holds a control character"
    if len(text) > MAX_LENGTH:
        return f"is longer than {MAX_LENGTH} characters"
    return "must be digits separated by single dots"
