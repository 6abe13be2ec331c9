"""Deterministic UIDs for synthetic data.

UIDs are UUID-derived UIDs under the 2.25 root (PS3.5 B.2) built from
name-based (SHA-1, version 5) UUIDs: the same inputs always give the same
UID, in every process, and no organisation's root is borrowed. (pydicom's
generate_uid ignores entropy_srcs when prefix is None, so it is not used.)
"""

from __future__ import annotations

import uuid

# Namespace of every example UID, itself a name-based UUID of the project's name.
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:dicom-resolver:examples:v1")


def derive_uid(*parts: object) -> str:
    """A stable, valid UID (at most 44 characters) derived from `parts`."""
    name = "\x1f".join(map(str, parts))
    return f"2.25.{uuid.uuid5(_NAMESPACE, name).int}"


def study_uid(seed: int, patient_id: str, accession_number: str, study_date: str) -> str:
    """StudyInstanceUID of the study identified by those values."""
    return derive_uid("study", seed, patient_id, accession_number, study_date)
