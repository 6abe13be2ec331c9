"""QIDO-RS over the emulator's folder, with the Healthcare API's paging.

Google's search transaction (DICOM conformance statement): `limit` defaults to 100 and is
capped (5000 for studies and series, 50000 for instances); `offset` skips matches; an
answer that leaves matches out says so with
`Warning: 299 {+}: There are additional results that match the query.`; no match at all
is an empty 204. Matches come in a stable order (by UID here), so that paging is
idempotent (PS3.18 8.3.4.4.1). Matching: UID lists, StudyDate ranges, exact PatientID and
AccessionNumber (with * and ? wildcards), ModalitiesInStudy.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from service.dicom import tags

DEFAULT_LIMIT = 100
MAX_LIMITS = {"studies": 5000, "series": 5000, "instances": 50000}
MORE_RESULTS_WARNING = "299 {+}: There are additional results that match the query."
_PAGING = ("limit", "offset", "includefield", "fuzzymatching")
_STUDY_FILTERS = ("StudyInstanceUID", "StudyDate", "PatientID", "AccessionNumber",
                  "ModalitiesInStudy")


class QueryError(ValueError):
    """A search Google would refuse with 400; the message names the parameter."""


@dataclass(frozen=True)
class SearchAttributes:
    """The attributes of one instance that searches match and answer with."""

    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    study_date: str
    study_time: str
    patient_id: str
    accession_number: str
    modality: str
    series_number: int | None
    instance_number: int | None

    @classmethod
    def of(cls, ds: Any) -> SearchAttributes:
        def text(keyword: str) -> str:
            value = ds.get(keyword)
            return "" if value is None else str(value)

        def number(keyword: str) -> int | None:
            value = ds.get(keyword)
            return int(value) if value not in (None, "") else None

        return cls(text("StudyInstanceUID"), text("SeriesInstanceUID"), text("SOPInstanceUID"),
                   text("SOPClassUID"), text("StudyDate"), text("StudyTime"),
                   text("PatientID"), text("AccessionNumber"), text("Modality"),
                   number("SeriesNumber"), number("InstanceNumber"))


@dataclass(frozen=True)
class Page:
    matches: list[dict[str, Any]]
    more: bool


def page_of(level: str, params: Mapping[str, str], matches: list[dict[str, Any]], *,
            cap: int | None = None) -> Page:
    """The page `limit`/`offset` ask for; `cap` lowers Google's cap (tests of paging)."""
    limit = _uint(params, "limit", DEFAULT_LIMIT)
    offset = _uint(params, "offset", 0)
    most = min(MAX_LIMITS[level], cap or MAX_LIMITS[level])
    limit = min(limit or most, most)
    chosen = matches[offset:offset + limit]
    return Page(chosen, offset + len(chosen) < len(matches))


def search_studies(index: Mapping[Any, SearchAttributes],
                   params: Mapping[str, str]) -> list[dict[str, Any]]:
    _check_keys(params, _STUDY_FILTERS)
    studies: dict[str, list[SearchAttributes]] = {}
    for attributes in index.values():
        studies.setdefault(attributes.study_uid, []).append(attributes)
    answers = []
    for study_uid in sorted(studies):
        instances = studies[study_uid]
        first = instances[0]
        modalities = sorted({a.modality for a in instances if a.modality})
        if not _study_matches(first, modalities, params):
            continue
        answers.append({
            tags.STUDY_DATE: _da(first.study_date), tags.STUDY_TIME: _tm(first.study_time),
            tags.ACCESSION_NUMBER: _sh(first.accession_number),
            tags.MODALITIES_IN_STUDY: ({"vr": "CS", "Value": modalities} if modalities
                                       else {"vr": "CS"}),
            tags.PATIENT_ID: _lo(first.patient_id), tags.STUDY_INSTANCE_UID: _ui(study_uid),
            tags.NUMBER_OF_STUDY_RELATED_SERIES: {
                "vr": "IS", "Value": [len({a.series_uid for a in instances})]},
            tags.NUMBER_OF_STUDY_RELATED_INSTANCES: {"vr": "IS", "Value": [len(instances)]},
        })
    return answers


def search_series(index: Mapping[Any, SearchAttributes], study_uid: str,
                  params: Mapping[str, str]) -> list[dict[str, Any]]:
    _check_keys(params, ("SeriesInstanceUID", "Modality"))
    series: dict[str, list[SearchAttributes]] = {}
    for attributes in index.values():
        if attributes.study_uid == study_uid:
            series.setdefault(attributes.series_uid, []).append(attributes)
    answers = []
    for series_uid in sorted(series):
        first = series[series_uid][0]
        if not _uid_matches(series_uid, params.get("SeriesInstanceUID")) or \
                not _text_matches(first.modality, params.get("Modality")):
            continue
        answers.append({
            tags.MODALITY: {"vr": "CS", "Value": [first.modality]} if first.modality
            else {"vr": "CS"},
            tags.STUDY_INSTANCE_UID: _ui(study_uid), tags.SERIES_INSTANCE_UID: _ui(series_uid),
            tags.SERIES_NUMBER: _is(first.series_number),
            tags.NUMBER_OF_SERIES_RELATED_INSTANCES: {
                "vr": "IS", "Value": [len(series[series_uid])]},
        })
    return answers


def search_instances(index: Mapping[Any, SearchAttributes], study_uid: str,
                     series_uid: str | None, params: Mapping[str, str]) -> list[dict[str, Any]]:
    _check_keys(params, ("SOPInstanceUID", "SOPClassUID", "SeriesInstanceUID"))
    chosen = sorted((a for a in index.values() if a.study_uid == study_uid
                     and (series_uid is None or a.series_uid == series_uid)
                     and _uid_matches(a.series_uid, params.get("SeriesInstanceUID"))
                     and _uid_matches(a.sop_uid, params.get("SOPInstanceUID"))
                     and _uid_matches(a.sop_class_uid, params.get("SOPClassUID"))),
                    key=lambda a: (a.series_uid, a.sop_uid))
    return [{tags.SOP_CLASS_UID: _ui(a.sop_class_uid), tags.SOP_INSTANCE_UID: _ui(a.sop_uid),
             tags.STUDY_INSTANCE_UID: _ui(a.study_uid), tags.SERIES_INSTANCE_UID: _ui(a.series_uid),
             tags.INSTANCE_NUMBER: _is(a.instance_number)} for a in chosen]


def _study_matches(first: SearchAttributes, modalities: Iterable[str],
                   params: Mapping[str, str]) -> bool:
    return (_uid_matches(first.study_uid, params.get("StudyInstanceUID"))
            and _date_matches(first.study_date, params.get("StudyDate"))
            and _text_matches(first.patient_id, params.get("PatientID"))
            and _text_matches(first.accession_number, params.get("AccessionNumber"))
            and (not params.get("ModalitiesInStudy")
                 or params["ModalitiesInStudy"] in modalities))


def _check_keys(params: Mapping[str, str], allowed: Iterable[str]) -> None:
    for key in params:
        if key not in _PAGING and key not in allowed:
            raise QueryError(f"Invalid query parameter: {key}.")
    if "StudyDate" in params:
        low, _, high = params["StudyDate"].partition("-")
        for part in (low, high):
            if part and not (len(part) == 8 and part.isdigit()):
                raise QueryError("Invalid StudyDate: expected YYYYMMDD or a range.")


def _uint(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise QueryError(f"Invalid {name}: expected an unsigned integer.")
    return int(raw)


def _uid_matches(value: str, wanted: str | None) -> bool:
    return not wanted or value in {uid.strip() for uid in wanted.split(",")}


def _text_matches(value: str, wanted: str | None) -> bool:
    if not wanted:
        return True
    if "*" in wanted or "?" in wanted:
        return fnmatch.fnmatchcase(value, wanted)
    return value == wanted


def _date_matches(value: str, wanted: str | None) -> bool:
    if not wanted:
        return True
    if "-" not in wanted:
        return value == wanted
    low, _, high = wanted.partition("-")
    return bool(value) and (not low or value >= low) and (not high or value <= high)


def _ui(value: str) -> dict[str, Any]:
    return {"vr": "UI", "Value": [value]}


def _da(value: str) -> dict[str, Any]:
    return {"vr": "DA", "Value": [value]} if value else {"vr": "DA"}


def _tm(value: str) -> dict[str, Any]:
    return {"vr": "TM", "Value": [value]} if value else {"vr": "TM"}


def _sh(value: str) -> dict[str, Any]:
    return {"vr": "SH", "Value": [value]} if value else {"vr": "SH"}


def _lo(value: str) -> dict[str, Any]:
    return {"vr": "LO", "Value": [value]} if value else {"vr": "LO"}


def _is(value: int | None) -> dict[str, Any]:
    return {"vr": "IS", "Value": [value]} if value is not None else {"vr": "IS"}
