"""One validated instance → the record the store keeps: index fields, levels, exact JSON.

Pure: no I/O. The stored DICOM JSON is the source of truth; every other field
here can be rebuilt from it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from service.dicom import json_model, stream, tags, uids
from service.dicom.fast_path import normalize_valid
from service.dicom.geometry import position_along_normal
from service.dicom.index_values import index_integer, index_text
from service.dicom.normalize import normalize_instance
from service.dicomweb import levels

# Attributes without which pixel data cannot be decoded (PS3.3 C.7.6.3 Image Pixel module).
PIXEL_MODULE_KEYWORDS = (
    (tags.ROWS, "Rows"), (tags.COLUMNS, "Columns"), (tags.BITS_ALLOCATED, "BitsAllocated"),
    (tags.BITS_STORED, "BitsStored"), (tags.HIGH_BIT, "HighBit"),
    (tags.PIXEL_REPRESENTATION, "PixelRepresentation"),
    (tags.SAMPLES_PER_PIXEL, "SamplesPerPixel"),
    (tags.PHOTOMETRIC_INTERPRETATION, "PhotometricInterpretation"),
)
PIXEL_DATA_KEYS = (tags.PIXEL_DATA, tags.FLOAT_PIXEL_DATA, tags.DOUBLE_FLOAT_PIXEL_DATA)


# Instance attributes shown in instance lists (the whole instance is one GET away).
SUMMARY_KEYWORDS = ("SOPClassUID", "SOPInstanceUID", "InstanceNumber", "ImageType",
                    "AcquisitionNumber", "ImagePositionPatient", "ImageOrientationPatient",
                    "SliceLocation", "Rows", "Columns", "NumberOfFrames")

# The instance-level return attributes of QIDO-RS (PS3.18 Table 10.6.3-5: SOPClassUID,
# SOPInstanceUID, InstanceNumber, Rows, Columns, BitsAllocated, NumberOfFrames) and the
# character set and timezone that say how to read them, kept apart as DICOM JSON so
# that instance searches need not parse each instance's whole JSON (service/dicomweb).
QIDO_INSTANCE_KEYS = (
    tags.SPECIFIC_CHARACTER_SET, tags.SOP_CLASS_UID, tags.SOP_INSTANCE_UID,
    tags.TIMEZONE_OFFSET_FROM_UTC, tags.INSTANCE_NUMBER, tags.NUMBER_OF_FRAMES,
    tags.ROWS, tags.COLUMNS, tags.BITS_ALLOCATED,
)


@dataclass(slots=True)
class InstanceRecord:
    """One instance ready to store. The normalized views are kept as compact JSON bytes
    (what the store writes), which bounds the memory of a big dump to a few times its
    size; the properties decode them on demand."""

    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str | None
    modality: str | None
    instance_number: int | None
    slice_position: float | None
    patient_id: str | None
    patient_name: str | None
    # One PatientName value whose Alphabetic group is ASCII without NUL: then the
    # upper-cased index key starts with an ASCII prefix exactly when QIDO's name match of
    # `PREFIX*` holds (service/store/qido_search.py), so SQL decides that search alone.
    patient_name_plain: bool
    study_date: str | None  # YYYYMMDD, as stored in DICOM, so that ranges compare as text
    study_time: str | None
    accession_number: str | None
    series_number: int | None
    has_pixel_data: bool
    pixel_module_missing: tuple[str, ...]
    # The instance as received, compact: a view of the request body when the body was
    # compact already (ingest keeps the body anyway; a copy would double its memory).
    dicom_json: bytes | memoryview
    content_hash: bytes
    attributes_json: bytes  # normalized form (see normalize.py)
    summary_json: bytes  # normalized SUMMARY_KEYWORDS, for instance lists
    study_json: bytes  # normalized study-level attributes
    series_json: bytes  # normalized series-level attributes
    qido_json: bytes  # QIDO_INSTANCE_KEYS of the instance as received (DICOM JSON)
    # The study- and series-level attributes as DICOM JSON (QIDO answers), split here
    # from the parsed instance so that the store need not parse its JSON again.
    study_dicom_json: bytes
    series_dicom_json: bytes

    @property
    def attributes(self) -> dict[str, Any]:
        return orjson.loads(self.attributes_json)


def _text(dataset: dict, key: str, index: int, findings: json_model.Findings) -> str | None:
    """The index form of an attribute's first value (see index_values)."""
    value = json_model.first_value(dataset, key)
    if value is None:
        return None
    if isinstance(value, dict):  # PN
        value = value.get("Alphabetic", "")
    text = str(value).strip()
    if "\x00" in text:
        findings.warn(index, f"$[{index}].{key}.Value[0]", "NUL character(s) left out of "
                                                            "the index; stored as received")
    return index_text(text)


def _identifiers(dataset: dict, index: int,
                 findings: json_model.Findings) -> tuple[dict[str, str], bool]:
    """The instance's own UIDs, without PS3.5 padding, which is also removed from the
    dataset (so that the stored JSON agrees with the index), and whether any was. A UID
    that cannot serve as an identifier (empty, control characters, not digits and dots)
    is an error."""
    found = {}
    unpadded = False
    for key, name in uids.IDENTIFYING:
        path = f"$[{index}].{key}"
        uid = json_model.first_value(dataset, key)
        if not isinstance(uid, str) or not uid:
            findings.error(index, path, f"{name} is required")
            continue
        error = uids.identifier_error(name, uid)
        if error:  # the Validator reports it too; the one-pass check never lets it by
            findings.error(index, f"{path}.Value[0]", error)
            continue
        value = uids.unpadded(uid)
        if value != uid:
            dataset[key]["Value"][0] = value
            unpadded = True
        found[name] = value
    return found, unpadded


def _compact_json(dataset: dict, index: int, findings: json_model.Findings) -> bytes | None:
    """The compact JSON of `dataset`, or None after reporting what JSON cannot carry."""
    try:
        return _exact_size(json_model.dumps(dataset))
    except TypeError:
        found = json_model.unwritable(dataset, f"$[{index}]")
        path, detail = found if found else (f"$[{index}]", "instance cannot be written as JSON")
        findings.error(index, path, detail)
        return None


def _exact_size(data: bytes) -> bytes:
    """A copy of orjson's output without its spare capacity (about 10 times the size when
    kept as is: orjson does not shrink its buffer)."""
    return bytes(memoryview(data))


def _integer(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, list) else None
    except (TypeError, ValueError, OverflowError):
        return None


def _indexed_integer(attributes: dict, keyword: str, key: str, index: int,
                     findings: json_model.Findings) -> int | None:
    number = _integer(attributes.get(keyword))
    indexed = index_integer(number)
    if number is not None and indexed is None:
        findings.warn(index, f"$[{index}].{key}.Value[0]", f"{keyword} is beyond IS's 32-bit "
                                                           "range; stored as received, not "
                                                           "indexed")
    return indexed


def _view_json(view: dict, written: list, slot: int) -> bytes:
    """The JSON of a study or series view; the one written last in `written[slot]` when
    `view` is that same object (fast_path hands an unchanged view on from the instance
    before, so a series' instances share one text instead of writing it each)."""
    last = written[slot]
    if last is not None and last[0] is view:
        return last[1]
    text = _exact_size(json_model.dumps(view))
    written[slot] = (view, text)
    return text


def _record(dataset: dict, index: int, findings: json_model.Findings,
            normalized: tuple[dict, dict, dict],
            raw: bytes | memoryview | None, written: list) -> InstanceRecord | None:
    """`raw`: the compact JSON of `dataset` when the caller already has it; `written`:
    the last study and series views' JSON (_view_json), kept by the caller."""
    identifiers, unpadded = _identifiers(dataset, index, findings)
    if len(identifiers) < 3:
        return None
    if unpadded:
        raw = None  # not the JSON as received any more
    attributes, study, series = normalized
    has_pixels = any(key in dataset for key in PIXEL_DATA_KEYS)
    missing: tuple[str, ...] = ()
    if has_pixels:
        missing = tuple(name for key, name in PIXEL_MODULE_KEYWORDS if key not in dataset)
        if missing:
            findings.warn(index, f"$[{index}].7FE00010",
                          f"pixel module incomplete: missing {', '.join(missing)}")
    if raw is None:
        raw = _compact_json(dataset, index, findings)
        if raw is None:
            return None
    elif isinstance(raw, bytes):
        raw = _exact_size(raw)
    study_date = _text(dataset, tags.STUDY_DATE, index, findings)
    summary = {key: attributes[key] for key in SUMMARY_KEYWORDS if key in attributes}
    study_dicom_json, series_dicom_json = levels.level_json(dataset)
    position = position_along_normal(attributes.get("ImagePositionPatient"),
                                     attributes.get("ImageOrientationPatient"))
    return InstanceRecord(
        study_uid=identifiers["StudyInstanceUID"],
        series_uid=identifiers["SeriesInstanceUID"],
        sop_uid=identifiers["SOPInstanceUID"],
        sop_class_uid=_text(dataset, tags.SOP_CLASS_UID, index, findings),
        modality=_text(dataset, tags.MODALITY, index, findings),
        instance_number=_indexed_integer(attributes, "InstanceNumber", tags.INSTANCE_NUMBER, index,
                                         findings),
        # Not finite (a DS beyond a float's range): no position; SQLite would store NaN
        # as NULL but PostgreSQL as NaN, and order it differently.
        slice_position=position if position is None or math.isfinite(position) else None,
        patient_id=_text(dataset, tags.PATIENT_ID, index, findings),
        patient_name=_text(dataset, tags.PATIENT_NAME, index, findings),
        patient_name_plain=plain_patient_name(dataset),
        study_date=study_date.replace(".", "") if study_date else None,
        study_time=_text(dataset, tags.STUDY_TIME, index, findings),
        accession_number=_text(dataset, tags.ACCESSION_NUMBER, index, findings),
        series_number=_indexed_integer(attributes, "SeriesNumber", tags.SERIES_NUMBER, index,
                                       findings),
        has_pixel_data=has_pixels,
        pixel_module_missing=missing,
        dicom_json=raw,
        content_hash=hashlib.blake2b(raw, digest_size=16).digest(),
        attributes_json=_exact_size(json_model.dumps(attributes)),
        summary_json=_exact_size(json_model.dumps(summary)),
        study_json=_view_json(study, written, 0),
        series_json=_view_json(series, written, 1),
        qido_json=_exact_size(json_model.dumps(
            {key: dataset[key] for key in QIDO_INSTANCE_KEYS if key in dataset})),
        study_dicom_json=study_dicom_json,
        series_dicom_json=series_dicom_json,
    )


def plain_patient_name(dataset: dict[str, Any]) -> bool:
    """See InstanceRecord.patient_name_plain."""
    attribute = dataset.get(tags.PATIENT_NAME)
    values = attribute.get("Value") if isinstance(attribute, dict) else None
    if not isinstance(values, list) or len(values) != 1 or not isinstance(values[0], dict):
        return False
    name = values[0].get("Alphabetic")
    return isinstance(name, str) and name.isascii() and "\x00" not in name


@dataclass(slots=True)
class ParsedDump:
    records: list[InstanceRecord]
    findings: json_model.Findings


def parse_dump(body: bytes, *, max_depth: int = 16) -> ParsedDump:
    """Parse, validate and build records for a whole dump; problems go to `findings`.

    Instances are read one at a time (stream.py) and each goes through the one-pass
    check (fast_path.py); an instance that pass declines goes through the Validator and
    normalize_instance, which locate every problem. A body that cannot be read one
    instance at a time is parsed whole. Raises json_model.JsonSyntaxError when the body
    is not JSON.
    """
    try:
        return _parse(stream.iter_instances(body), json_model.Findings(), max_depth)
    except stream.NotStreamable:
        pass  # start again on the whole document: it reports errors exactly
    findings = json_model.Findings()
    document = json_model.load_json(body)
    instances = json_model.split_dump(document, findings)
    return _parse(((instance, None) for instance in instances), findings, max_depth)


def _parse(instances: Iterable[tuple[Any, bytes | memoryview | None]],
           findings: json_model.Findings, max_depth: int) -> ParsedDump:
    validator = json_model.Validator(findings, max_depth=max_depth)
    records: list[InstanceRecord] = []
    seen: dict[str, int] = {}
    memo: dict = {}  # attributes repeated across instances (see fast_path)
    written: list = [None, None]  # the last study and series views' JSON (_view_json)
    for index, (instance, compact) in enumerate(instances):
        if not isinstance(instance, dict):
            continue
        normalized = normalize_valid(instance, max_depth, memo)
        if normalized is None:
            errors_before = len(findings.errors)
            instance = validator.instance(instance, index)
            if len(findings.errors) > errors_before:
                continue
            normalized = normalize_instance(instance)
            compact = None  # the Validator may have rewritten keys
        record = _record(instance, index, findings, normalized, compact, written)
        if record is None:
            continue
        if record.sop_uid in seen:
            first = seen[record.sop_uid]
            if records[first].content_hash != record.content_hash:
                findings.error(index, f"$[{index}].00080018",
                               f"SOPInstanceUID repeats instance {first} with other content")
            continue
        seen[record.sop_uid] = len(records)
        records.append(record)
    return ParsedDump(records, findings)
