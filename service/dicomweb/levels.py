"""Which information-model level an attribute belongs to, and what each QIDO level returns.

The level split is the store's (service.dicom.normalize): group 0010 and the
Study IE modules are study level, the Series, Frame of Reference and Equipment
IEs are series level, everything else (private tags included) is instance level.
Return attributes follow PS3.18 §10.6.3.3 (Tables 10.6.3-3 to 10.6.3-5).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from service.dicom import dictionary, json_model, tags
from service.dicom.normalize import SERIES_KEYWORDS, STUDY_KEYWORDS

STUDY, SERIES, INSTANCE = "study", "series", "instance"
LEVELS = (STUDY, SERIES, INSTANCE)

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
        return STUDY  # repeated in the series level too (level_json)
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


@lru_cache(maxsize=16384)
def vr_of(key: str) -> str:
    """The dictionary VR of a tag key (the first of "US or SS"); "UN" when unknown."""
    info = dictionary.lookup(int(key, 16))
    if info is None or not info.vr:
        return "UN"
    return info.vr.split(" ")[0]


# The level split of an instance's keys, by its tuple of keys: the instances of a series
# carry the same keys, so most of a dump's instances reuse one split (bounded: cleared
# when full).
_SPLITS: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
_SPLITS_MAX = 256


def _split(keys: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(study keys, series keys) of an instance's keys, in the instance's order; the
    common attributes (COMMON) belong to both."""
    found = _SPLITS.get(keys)
    if found is None:
        study = tuple(key for key in keys if level_of(key) == STUDY)
        series = tuple(key for key in keys if level_of(key) == SERIES)
        # The common attributes are study level: the study keeps them where they are,
        # the series has them appended.
        series += tuple(key for key in COMMON if key in study)
        if len(_SPLITS) >= _SPLITS_MAX:
            _SPLITS.clear()
        found = _SPLITS[keys] = (study, series)
    return found


def level_json(instance: dict[str, Any]) -> tuple[bytes, bytes]:
    """(study, series) level datasets of one instance as the DICOM JSON the store keeps for
    QIDO answers: each level's attributes plus the common ones, without looking at every
    key of every instance.

    Numbers are written as orjson writes what it reads from their text, as for any value
    read back from the store (json_model keeps an inexact number's text: orjson's own
    reading of it is what a stored row has always held).
    """
    study_keys, series_keys = _split(tuple(instance))
    return (_orjson_text({key: instance[key] for key in study_keys}),
            _orjson_text({key: instance[key] for key in series_keys}))


def _orjson_text(dataset: dict[str, Any]) -> bytes:
    try:
        text = orjson.dumps(dataset)
    except TypeError:  # a json_model exact number: what orjson reads from its text
        text = orjson.dumps(orjson.loads(json_model.dumps(dataset)))
    return bytes(memoryview(text))  # without orjson's spare capacity (records._exact_size)


def merge_study_json(study_json: bytes, other_study_json: bytes) -> bytes:
    """A study's level JSON with the attributes another series' instance carries and it
    lacks (a report's instance may lack what the images have); sorted by key when any
    is added."""
    merged = orjson.loads(study_json)
    extra = orjson.loads(other_study_json)
    missing = {key: value for key, value in extra.items() if key not in merged}
    if not missing:
        return study_json
    return orjson.dumps(dict(sorted({**merged, **missing}.items())))
