"""Which information-model level an attribute belongs to, and what each QIDO level returns.

The level split is the store's (service.dicom.normalize): group 0010 and the
Study IE modules are study level, the Series, Frame of Reference and Equipment
IEs are series level, everything else (private tags included) is instance level.
Return attributes follow PS3.18 §10.6.3.3 (Tables 10.6.3-3 to 10.6.3-5).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from service.dicom import dictionary, tags
from service.dicom.normalize import SERIES_KEYWORDS, STUDY_KEYWORDS

STUDY, SERIES, INSTANCE = "study", "series", "instance"
LEVELS = (STUDY, SERIES, INSTANCE)

# Names store/qido and api/dicomweb/search still use; those modules are being moved in
# issue #11 and read tags.* directly after that merge, when these go.
STUDY_UID, SERIES_UID = tags.STUDY_INSTANCE_UID, tags.SERIES_INSTANCE_UID
SOP_UID, MODALITIES_IN_STUDY = tags.SOP_INSTANCE_UID, tags.MODALITIES_IN_STUDY

# Attributes computed by the service, not stored in any instance.
COMPUTED = frozenset({
    tags.MODALITIES_IN_STUDY, tags.INSTANCE_AVAILABILITY, tags.RETRIEVE_URL,
    tags.NUMBER_OF_STUDY_RELATED_SERIES, tags.NUMBER_OF_STUDY_RELATED_INSTANCES,
    tags.NUMBER_OF_SERIES_RELATED_INSTANCES,
})
# Always answered with the level's own attributes (character set: how to read the strings).
COMMON = (tags.SPECIFIC_CHARACTER_SET, tags.TIMEZONE_OFFSET_FROM_UTC)

REQUIRED: dict[str, tuple[str, ...]] = {
    STUDY: (
        tags.STUDY_DATE, tags.STUDY_TIME, tags.ACCESSION_NUMBER, tags.INSTANCE_AVAILABILITY,
        tags.MODALITIES_IN_STUDY, tags.REFERRING_PHYSICIAN_NAME, tags.RETRIEVE_URL,
        tags.PATIENT_NAME, tags.PATIENT_ID, tags.PATIENT_BIRTH_DATE, tags.PATIENT_SEX,
        tags.STUDY_INSTANCE_UID, tags.STUDY_ID, tags.NUMBER_OF_STUDY_RELATED_SERIES,
        tags.NUMBER_OF_STUDY_RELATED_INSTANCES,
    ),
    SERIES: (
        tags.MODALITY, tags.SERIES_DESCRIPTION, tags.RETRIEVE_URL, tags.SERIES_INSTANCE_UID,
        tags.SERIES_NUMBER, tags.NUMBER_OF_SERIES_RELATED_INSTANCES,
        tags.PERFORMED_PROCEDURE_STEP_START_DATE, tags.PERFORMED_PROCEDURE_STEP_START_TIME,
        tags.REQUEST_ATTRIBUTES_SEQUENCE,
    ),
    INSTANCE: (
        tags.SOP_CLASS_UID, tags.SOP_INSTANCE_UID, tags.INSTANCE_AVAILABILITY, tags.RETRIEVE_URL,
        tags.INSTANCE_NUMBER, tags.ROWS, tags.COLUMNS, tags.BITS_ALLOCATED, tags.NUMBER_OF_FRAMES,
    ),
}


@lru_cache(maxsize=16384)
def level_of(key: str) -> str:
    """The level of a top-level attribute key ("GGGGEEEE")."""
    if key in (tags.SPECIFIC_CHARACTER_SET, tags.TIMEZONE_OFFSET_FROM_UTC):
        return STUDY  # repeated at every level by level_dataset
    if key in (tags.MODALITIES_IN_STUDY, tags.NUMBER_OF_STUDY_RELATED_SERIES,
               tags.NUMBER_OF_STUDY_RELATED_INSTANCES):
        return STUDY
    if key == tags.NUMBER_OF_SERIES_RELATED_INSTANCES:
        return SERIES
    tag = int(key, 16)
    if dictionary.is_private(tag):
        return INSTANCE
    info = dictionary.lookup(tag)
    if info is None or info.keyword is None or info.repeater:
        return INSTANCE
    if tag >> 16 == 0x0010 or info.keyword in STUDY_KEYWORDS:
        return STUDY
    if info.keyword in SERIES_KEYWORDS:
        return SERIES
    return INSTANCE


def level_rank(level: str) -> int:
    return LEVELS.index(level)


def level_dataset(instance: dict[str, Any], level: str) -> dict[str, Any]:
    """The attributes of one level taken from a whole instance, plus the common ones."""
    picked = {key: value for key, value in instance.items() if level_of(key) == level}
    for key in COMMON:
        if key in instance:
            picked[key] = instance[key]
    return picked


@lru_cache(maxsize=16384)
def vr_of(key: str) -> str:
    """The dictionary VR of a tag key (the first of "US or SS"); "UN" when unknown."""
    info = dictionary.lookup(int(key, 16))
    if info is None or not info.vr:
        return "UN"
    return info.vr.split(" ")[0]
