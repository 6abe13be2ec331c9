"""Validated DICOM JSON instance → the service's normalized keyword form and index fields.

The normalized form (the API contract, see openapi.yaml `Attributes`):
keys are DICOM keywords (public tags unknown to the dictionary and repeating
groups keep their "GGGGEEEE" key); values are typed by VR (see value_formats.py);
attributes whose dictionary VM is "1" are scalars, every other one is an
array; an attribute without value is null; sequences are arrays of objects of
the same form; bulk data stays {"BulkDataURI": …} / {"InlineBinary": …};
private attributes go to a "private" list with their creator.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from service.dicom import dictionary, uids, value_formats
from service.dicom.json_model import INT_RANGES, private_creators

PRIVATE_KEY = "private"

# Which information-model level an attribute belongs to (PS3.3 modules of the
# Patient and Study IEs, and of the Series, Frame of Reference and Equipment IEs).
# Everything in group 0010 is patient level and goes with the study.
STUDY_KEYWORDS = frozenset({
    "StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber",
    "IssuerOfAccessionNumberSequence", "ReferringPhysicianName",
    "ReferringPhysicianIdentificationSequence", "StudyID", "StudyDescription",
    "ProcedureCodeSequence", "PhysiciansOfRecord", "PhysiciansOfRecordIdentificationSequence",
    "NameOfPhysiciansReadingStudy", "PhysiciansReadingStudyIdentificationSequence",
    "RequestingServiceCodeSequence", "ReferencedStudySequence", "AdmittingDiagnosesDescription",
    "AdmittingDiagnosesCodeSequence", "ReasonForPerformedProcedureCodeSequence",
    "StudyStatusID", "StudyPriorityID", "RequestedProcedureDescription",
    "RequestedProcedureCodeSequence", "Occupation", "AdditionalPatientHistory",
    "SpecificCharacterSet", "TimezoneOffsetFromUTC",
})
SERIES_KEYWORDS = frozenset({
    "Modality", "SeriesInstanceUID", "SeriesNumber", "Laterality", "SeriesDate",
    "SeriesTime", "PerformingPhysicianName", "PerformingPhysicianIdentificationSequence",
    "ProtocolName", "SeriesDescription", "SeriesDescriptionCodeSequence", "OperatorsName",
    "OperatorIdentificationSequence", "ReferencedPerformedProcedureStepSequence",
    "RelatedSeriesSequence", "BodyPartExamined", "PatientPosition",
    "SmallestPixelValueInSeries", "LargestPixelValueInSeries", "RequestAttributesSequence",
    "PerformedProcedureStepID", "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime", "PerformedProcedureStepDescription",
    "PerformedProtocolCodeSequence", "CommentsOnThePerformedProcedureStep",
    "AnatomicalOrientationType", "FrameOfReferenceUID", "PositionReferenceIndicator",
    "Manufacturer", "InstitutionName", "InstitutionAddress", "StationName",
    "InstitutionalDepartmentName", "ManufacturerModelName", "DeviceSerialNumber",
    "SoftwareVersions", "SpatialResolution", "DateOfLastCalibration", "TimeOfLastCalibration",
    "GantryID", "DeviceUID",
})


@dataclass(frozen=True, slots=True)
class _KeyInfo:
    name: str  # output key: keyword, or GGGGEEEE
    scalar: bool
    level: str  # "study", "series" or "instance"


@lru_cache(maxsize=16384)
def _key_info(key: str) -> _KeyInfo:
    tag = int(key, 16)
    info = dictionary.lookup(tag)
    if info is None or info.keyword is None or info.repeater:
        return _KeyInfo(key, bool(info and info.vm == "1"), "instance")
    keyword = info.keyword
    if tag >> 16 == 0x0010 or keyword in STUDY_KEYWORDS:
        level = "study"
    elif keyword in SERIES_KEYWORDS:
        level = "series"
    else:
        level = "instance"
    return _KeyInfo(keyword, info.vm == "1", level)


def convert_values(vr: str, items: list) -> list:
    """The typed JSON values of one attribute's Value array."""
    if vr == "PN":
        return [value_formats.person_name(v) for v in items]
    if vr == "DA":
        return [value_formats.date_iso(v) if v else v for v in items]
    if vr == "TM":
        return [value_formats.time_iso(v) if v else v for v in items]
    if vr == "DT":
        return [value_formats.datetime_iso(v) if v else v for v in items]
    if vr == "DS":
        return [value_formats.decimal_number(v) for v in items]
    if vr == "IS" or vr in INT_RANGES:
        return [value_formats.integer_number(v) for v in items]
    if vr == "SQ":
        return [normalize_attributes(item) for item in items]
    if vr == "AT":
        return [v.upper() for v in items]
    if vr == "UI":  # PS3.5 padding is not part of the value
        return [uids.unpadded(v) if isinstance(v, str) else v for v in items]
    return items


def _attribute_value(attribute: dict, scalar: bool) -> Any:
    items = attribute.get("Value")
    if items is None:
        if "BulkDataURI" in attribute:
            return {"BulkDataURI": attribute["BulkDataURI"]}
        if "InlineBinary" in attribute:
            return {"InlineBinary": attribute["InlineBinary"]}
        return None
    if not items:
        return None
    vr = attribute["vr"]
    converted = convert_values(vr, items)
    if scalar and len(converted) == 1 and vr != "SQ":  # a sequence is an array, always
        return converted[0]
    return converted


def normalize_attributes(dataset: dict) -> dict[str, Any]:
    """One validated DICOM JSON dataset (instance or sequence item) → normalized form."""
    result: dict[str, Any] = {}
    private: list[dict[str, Any]] | None = None
    creators: dict[int, str] | None = None
    for key, attribute in dataset.items():
        if key[3] in "13579BDFbdf":  # odd group: private
            if private is None:
                private = []
                creators = private_creators(dataset)
            private.append(_private_entry(key, attribute, creators))
            continue
        if key.endswith("0000"):
            continue  # group length: carries nothing the model needs
        info = _key_info(key)
        result[info.name] = _attribute_value(attribute, info.scalar)
    if private:
        result[PRIVATE_KEY] = private
    return result


def _private_entry(key: str, attribute: dict, creators: dict[int, str] | None) -> dict:
    tag = int(key, 16)
    vr = attribute.get("vr")
    if dictionary.is_private_creator(tag):
        return {"tag": key, "creator": None, "name": "Private Creator", "vr": vr,
                "value": _attribute_value(attribute, True)}
    creator = (creators or {}).get(dictionary.private_creator_tag(tag))
    info = dictionary.lookup_private(tag, creator) if creator else None
    name = info.name if info and info.name != "Unknown" else None
    scalar = bool(info and info.vm == "1")
    return {"tag": key, "creator": creator, "name": name, "vr": vr,
            "value": _attribute_value(attribute, scalar)}


def normalize_instance(dataset: dict) -> tuple[dict, dict, dict]:
    """An instance → (all attributes, study-level attributes, series-level attributes).

    One pass: each value is converted once and shared by the three views.
    """
    attributes = normalize_attributes(dataset)
    study: dict[str, Any] = {}
    series: dict[str, Any] = {}
    for key in dataset:
        if key[3] in "13579BDFbdf" or key.endswith("0000"):
            continue
        info = _key_info(key)
        if info.level == "study":
            study[info.name] = attributes[info.name]
        elif info.level == "series":
            series[info.name] = attributes[info.name]
    return attributes, study, series
