"""Structured Report (SR) content tree → plain text and a JSON tree (PS3.3 C.17.3).

Works on one validated DICOM JSON instance (tag-keyed, as in a dump). Pure: no
Flask, no I/O. The content tree is walked with an explicit depth bound, and a
malformed item (no ValueType, wrong types) is reported in "problems" rather than
raised, so that a damaged report still reads as far as it is readable.
"""

from __future__ import annotations

from typing import Any

from pydicom import uid as sop

from service.dicom import tags, value_formats
from service.dicom.json_model import first_value

# The SR Storage SOP classes (PS3.4 B.5, "Structured Reporting" rows) whose
# instances carry an SR Document Content module.
SR_SOP_CLASSES = frozenset({
    sop.BasicTextSRStorage, sop.EnhancedSRStorage, sop.ComprehensiveSRStorage,
    sop.Comprehensive3DSRStorage, sop.ExtensibleSRStorage, sop.ProcedureLogStorage,
    sop.MammographyCADSRStorage, sop.KeyObjectSelectionDocumentStorage,
    sop.ChestCADSRStorage, sop.ColonCADSRStorage, sop.XRayRadiationDoseSRStorage,
    sop.EnhancedXRayRadiationDoseSRStorage, sop.RadiopharmaceuticalRadiationDoseSRStorage,
    sop.PatientRadiationDoseSRStorage, sop.AcquisitionContextSRStorage,
    sop.SimplifiedAdultEchoSRStorage, sop.ImplantationPlanSRStorage,
    sop.PlannedImagingAgentAdministrationSRStorage,
    sop.PerformedImagingAgentAdministrationSRStorage, sop.WaveformAnnotationSRStorage,
    sop.MacularGridThicknessAndVolumeReportStorage, sop.SpectaclePrescriptionReportStorage,
})

# Deepest content item nesting walked; real reports are a handful of levels deep.
MAX_CONTENT_DEPTH = 32


_REFERENCE_TYPES = frozenset({"IMAGE", "COMPOSITE", "WAVEFORM"})


def _text(dataset: dict, key: str) -> str | None:
    value = first_value(dataset, key)
    if isinstance(value, str):
        return value.strip() or None
    return None


def _items(dataset: dict, key: str) -> list[dict]:
    attribute = dataset.get(key)
    if not isinstance(attribute, dict):
        return []
    items = attribute.get("Value")
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]


def _converted(text: str | None, convert: Any) -> str | None:
    return convert(text) if text else None


def is_sr(instance: dict) -> bool:
    """True for an instance of an SR Storage SOP class, or of Modality SR."""
    sop_class = _text(instance, tags.SOP_CLASS_UID)
    return sop_class in SR_SOP_CLASSES or _text(instance, tags.MODALITY) == "SR"


def code(item: dict) -> dict[str, Any] | None:
    """A Code Sequence Macro item (PS3.3 8.8) → {code_value, coding_scheme, code_meaning}."""
    value = (_text(item, tags.CODE_VALUE) or _text(item, tags.LONG_CODE_VALUE)
             or _text(item, tags.URN_CODE_VALUE))
    meaning = _text(item, tags.CODE_MEANING)
    if value is None and meaning is None:
        return None
    return {"code_value": value, "coding_scheme": _text(item, tags.CODING_SCHEME_DESIGNATOR),
            "code_meaning": meaning}


def _first_code(dataset: dict, key: str) -> dict[str, Any] | None:
    items = _items(dataset, key)
    return code(items[0]) if items else None


def _numeric(item: dict) -> dict[str, Any] | None:
    measured = _items(item, tags.MEASURED_VALUE_SEQUENCE)
    if not measured:
        return None
    number = first_value(measured[0], tags.NUMERIC_VALUE)
    return {"value": value_formats.decimal_number(number) if number is not None else None,
            "unit": _first_code(measured[0], tags.MEASUREMENT_UNITS_CODE_SEQUENCE)}


def _reference(item: dict) -> dict[str, Any] | None:
    references = _items(item, tags.REFERENCED_SOP_SEQUENCE)
    if not references:
        return None
    return {"ReferencedSOPClassUID": _text(references[0], tags.REFERENCED_SOP_CLASS_UID),
            "ReferencedSOPInstanceUID": _text(references[0], tags.REFERENCED_SOP_INSTANCE_UID)}


def item_value(item: dict, value_type: str | None) -> Any:
    """The value of one content item, by its ValueType (PS3.3 C.17.3.2.1)."""
    if value_type == "TEXT":
        value = first_value(item, tags.TEXT_VALUE)
        return value if isinstance(value, str) else None
    if value_type == "CODE":
        return _first_code(item, tags.CONCEPT_CODE_SEQUENCE)
    if value_type == "NUM":
        return _numeric(item)
    if value_type == "DATE":
        return _converted(_text(item, tags.DATE), value_formats.date_iso)
    if value_type == "TIME":
        return _converted(_text(item, tags.TIME), value_formats.time_iso)
    if value_type == "DATETIME":
        return _converted(_text(item, tags.DATE_TIME), value_formats.datetime_iso)
    if value_type == "PNAME":
        return value_formats.person_name(first_value(item, tags.PERSON_NAME))
    if value_type == "UIDREF":
        return _text(item, tags.UID)
    if value_type in _REFERENCE_TYPES:
        return _reference(item)
    return None


class _Walker:
    """One walk over the content tree, collecting the narrative and the problems."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.problems: list[dict[str, str]] = []
        self.last_heading: str | None = None

    def heading(self, title: str) -> None:
        if self.lines:
            self.lines.append("")
        self.lines.append(title)
        self.last_heading = title

    def node(self, item: dict, path: str, depth: int, in_section: bool) -> dict[str, Any]:
        value_type = _text(item, tags.VALUE_TYPE)
        concept = _first_code(item, tags.CONCEPT_NAME_CODE_SEQUENCE)
        if value_type is None:
            self.problems.append({"path": path, "detail": "content item without ValueType"})
        meaning = concept["code_meaning"] if concept else None
        node: dict[str, Any] = {
            "relationship": _text(item, tags.RELATIONSHIP_TYPE),
            "value_type": value_type,
            "concept": concept,
            "value": item_value(item, value_type),
        }
        if value_type == "CONTAINER":
            node["continuity"] = _text(item, tags.CONTINUITY_OF_CONTENT)
            if depth > 0 and meaning:
                self.heading(meaning)
                in_section = True
        elif value_type == "TEXT" and isinstance(node["value"], str):
            # A TEXT item outside any section container is its own section (the common
            # Basic Text SR shape: root → TEXT "Findings", TEXT "Impression").
            if not in_section and meaning and meaning != self.last_heading:
                self.heading(meaning)
            if node["value"].strip():
                self.lines.append(node["value"].rstrip())
        children = _items(item, tags.CONTENT_SEQUENCE)
        if children and depth >= MAX_CONTENT_DEPTH:
            self.problems.append({"path": path, "detail": f"content tree deeper than "
                                                          f"{MAX_CONTENT_DEPTH}; not walked"})
            children = []
        node["children"] = [
            self.node(child, f"{path}.children[{i}]", depth + 1, in_section)
            for i, child in enumerate(children)]
        return node


def _observers(instance: dict) -> dict[str, list[dict[str, Any]]]:
    verifying = [{"name": value_formats.person_name(
                      first_value(item, tags.VERIFYING_OBSERVER_NAME)),
                  "organization": _text(item, tags.VERIFYING_ORGANIZATION),
                  "datetime": _converted(_text(item, tags.VERIFICATION_DATE_TIME),
                                         value_formats.datetime_iso)}
                 for item in _items(instance, tags.VERIFYING_OBSERVER_SEQUENCE)]
    author = [{"name": value_formats.person_name(first_value(item, tags.PERSON_NAME)),
               "organization": _text(item, tags.INSTITUTION_NAME),
               "datetime": None,
               "type": _text(item, tags.OBSERVER_TYPE)}
              for item in _items(instance, tags.AUTHOR_OBSERVER_SEQUENCE)]
    return {"verifying": verifying, "author": author}


def build_report(instance: dict) -> dict[str, Any]:
    """The report of one SR instance: identification, flags, observers, text and tree.

    The root of the content tree is the instance itself (PS3.3 C.17.3: the SR Document
    Content module holds the root CONTAINER's ValueType, ConceptNameCodeSequence and
    ContentSequence at the top level of the dataset).
    """
    walker = _Walker()
    root = walker.node(instance, "content", 0, False)
    title = root["concept"]["code_meaning"] if root["concept"] else None
    return {
        "SOPInstanceUID": _text(instance, tags.SOP_INSTANCE_UID),
        "SeriesInstanceUID": _text(instance, tags.SERIES_INSTANCE_UID),
        "SOPClassUID": _text(instance, tags.SOP_CLASS_UID),
        "CompletionFlag": _text(instance, tags.COMPLETION_FLAG),
        "VerificationFlag": _text(instance, tags.VERIFICATION_FLAG),
        "ContentDate": _converted(_text(instance, tags.CONTENT_DATE), value_formats.date_iso),
        "ContentTime": _converted(_text(instance, tags.CONTENT_TIME), value_formats.time_iso),
        "observer": _observers(instance),
        "title": title,
        "text": "\n".join(walker.lines),
        "content": root,
        "problems": walker.problems,
    }
