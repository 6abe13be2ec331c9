"""`show` and `tree` as text: attribute lines and the patient → study → series outline.

Pure formatting of the DICOM JSON model (PS3.18 F.2): the canonical instances that
json_model.Validator returns go in, lines of text come out. It works on the JSON
directly (no pydicom Dataset per instance) so that a dump of thousands of instances
prints in about a second; it does no I/O and logs nothing, since values are patient data.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from service.dicom import dictionary, tags, value_formats
from service.dicom.json_model import ExactFloat, first_value, private_creators

MAX_VALUE_CHARS = 96  # longer values are cut with an ellipsis in `show`


# ---------------------------------------------------------------- show

def _scalar_text(value: Any, vr: str) -> str:
    if value is None:
        return ""
    if vr == "PN":
        return value_formats.person_name(value) or ""
    if isinstance(value, ExactFloat):
        return value.text
    return str(value)


def _inline_size(encoded: str) -> int:
    text = "".join(encoded.split())
    return len(text) * 3 // 4 - (len(text) - len(text.rstrip("=")))


def format_value(attribute: dict) -> str:
    """The printed value of one non-sequence attribute (see `show`)."""
    vr = attribute.get("vr", "")
    if "BulkDataURI" in attribute:
        uri = attribute["BulkDataURI"]
        # Keep the tail of a long URI: ".../bulkdata/7FE00010" is the informative part.
        if len(uri) > MAX_VALUE_CHARS:
            uri = uri[:40] + "…" + uri[-(MAX_VALUE_CHARS - 41):]
        return f"<BulkDataURI {uri}>"
    if "InlineBinary" in attribute:
        return f"<InlineBinary, {_inline_size(attribute['InlineBinary'])} bytes>"
    items = attribute.get("Value")
    if not items:
        return "(no value)"
    try:
        text = "\\".join(items)  # all strings: the common case, and the fast one
    except TypeError:
        text = "\\".join(_scalar_text(value, vr) for value in items)
    if "\n" in text or "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "↵")
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


_ODD_DIGITS = frozenset("13579BDF")


def attribute_name(tag: int, creator: str | None) -> str:
    """The dictionary name; private elements as "[CREATOR] Name" when the block is known."""
    if dictionary.is_private(tag) and not dictionary.is_private_creator(tag):
        if creator is None:
            return "Private tag without creator"
        info = dictionary.lookup_private(tag, creator)
        return f"[{creator}] {info.name if info and info.name else 'Unknown'}"
    info = dictionary.lookup(tag)
    return info.name if info and info.name else "Unknown Tag"


@lru_cache(maxsize=65536)
def _head(key: str, creator: str | None, vr: str) -> str:
    return f"{attribute_name(int(key, 16), creator)} ({key[:4]},{key[4:]}) {vr}"


def format_dataset(dataset: dict, lines: list[str], indent: int = 0,
                   group: int | None = None) -> None:
    """Append the lines of one dataset (instance or sequence item) to `lines`."""
    pad = " " * indent
    creators = private_creators(dataset)
    group_key = None if group is None else f"{group:04X}"
    for key in sorted(dataset):
        if group_key is not None and key[:4] != group_key:
            continue
        attribute = dataset[key]
        vr = attribute.get("vr", "")
        creator = None
        if creators and key[3] in _ODD_DIGITS:
            creator = creators.get(dictionary.private_creator_tag(int(key, 16)))
        head = pad + _head(key, creator, vr)
        if vr != "SQ":
            lines.append(f"{head} = {format_value(attribute)}")
            continue
        items = attribute.get("Value") or []
        lines.append(f"{head}: {len(items)} item{'s' if len(items) != 1 else ''}")
        for number, item in enumerate(items, 1):
            lines.append(f"{pad}  > item {number}")
            format_dataset(item, lines, indent + 4)



# ---------------------------------------------------------------- tree

def plural(count: int, word: str, many: str | None = None) -> str:
    """"1 study", "2 studies": the count and the word in agreement."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def _described(text: Any) -> str:
    return f' "{text}"' if text else ""


def _number_key(value: Any) -> tuple[int, float]:
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (1, 0.0)


def _any(instances: list[dict], key: str) -> Any:
    """The first value any of the instances has (an SR may lack the study description)."""
    return next((value for value in (first_value(i, key) for i in instances)
                 if value not in (None, "")), None)


def tree_lines(instances: list[dict], with_instances: bool = False) -> list[str]:
    """Patient → Study → Series (→ Instance) with counts, modalities and descriptions."""
    patients: dict[tuple, dict[str, dict[str, list[dict]]]] = {}
    for instance in instances:
        patient = (value_formats.person_name(first_value(instance, tags.PATIENT_NAME)),
                   first_value(instance, tags.PATIENT_ID))
        studies = patients.setdefault(patient, {})
        series = studies.setdefault(
            first_value(instance, tags.STUDY_INSTANCE_UID) or "(no StudyInstanceUID)", {})
        series.setdefault(
            first_value(instance, tags.SERIES_INSTANCE_UID) or "(no SeriesInstanceUID)", []
        ).append(instance)
    lines = []
    for (name, patient_id), studies in patients.items():
        count = sum(len(group) for series in studies.values() for group in series.values())
        lines.append(f"Patient {name or '(no name)'} (ID {patient_id or '—'}): "
                     f"{plural(len(studies), 'study', 'studies')}, "
                     f"{plural(count, 'instance')}")
        members = {uid: [i for group in series.values() for i in group]
                   for uid, series in studies.items()}
        for study_uid in sorted(studies, key=lambda uid: str(_any(members[uid], tags.STUDY_DATE))):
            series, study = studies[study_uid], members[study_uid]
            date, accession = _any(study, tags.STUDY_DATE), _any(study, tags.ACCESSION_NUMBER)
            modalities = sorted({str(first_value(i, tags.MODALITY)) for i in study
                                 if first_value(i, tags.MODALITY)})
            lines.append(
                f"  Study {study_uid}{' ' + value_formats.date_iso(date) if date else ''}"
                f"{_described(_any(study, tags.STUDY_DESCRIPTION))}"
                f"{f' accession {accession}' if accession else ''}: "
                f"{plural(len(series), 'series', 'series')}, "
                f"{plural(len(study), 'instance')}, modalities {'/'.join(modalities) or '—'}")
            for series_uid in sorted(series, key=lambda uid: _number_key(
                    _any(series[uid], tags.SERIES_NUMBER))):
                group = series[series_uid]
                number = _any(group, tags.SERIES_NUMBER)
                lines.append(f"    Series {series_uid}{f' #{number}' if number is not None else ''}"
                             f" {_any(group, tags.MODALITY) or '—'}"
                             f"{_described(_any(group, tags.SERIES_DESCRIPTION))}: "
                             f"{plural(len(group), 'instance')}")
                if not with_instances:
                    continue
                for instance in sorted(group, key=lambda i: (
                        _number_key(first_value(i, tags.INSTANCE_NUMBER)),
                        first_value(i, tags.SOP_INSTANCE_UID) or "")):
                    number = first_value(instance, tags.INSTANCE_NUMBER)
                    lines.append(f"      Instance {first_value(instance, tags.SOP_INSTANCE_UID)}"
                                 f"{f' #{number}' if number is not None else ''}")
    return lines
