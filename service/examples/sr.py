"""The dictated radiology report: a Basic Text SR instance (PS3.3 A.35.1).

Its content tree follows TID 2000 (Basic Diagnostic Imaging Report) in a
simplified form: a CONTAINER root with TEXT sections and one CODE item.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydicom import Dataset
from pydicom.uid import BasicTextSRStorage, CTImageStorage, MRImageStorage

from . import common, uids
from .spec import StudySpec

# (findings, impression, finding code, finding meaning) variants picked by seed.
_NARRATIVES = (
    ("FINDINGS: Lungs are clear without focal consolidation. No pleural effusion or "
     "pneumothorax. Heart size is normal. A 4 mm nodule is seen in the right upper lobe.",
     "IMPRESSION: 4 mm right upper lobe pulmonary nodule. No acute cardiopulmonary process.",
     "427359005", "Solitary nodule of lung"),
    ("FINDINGS: Mild centrilobular emphysema in both upper lobes. No suspicious "
     "pulmonary nodule. Mediastinal lymph nodes are not enlarged.",
     "IMPRESSION: Mild emphysema. No evidence of malignancy.",
     "87433001", "Pulmonary emphysema"),
    ("FINDINGS: Small left pleural effusion with adjacent atelectasis. The airways are "
     "patent. Degenerative changes of the thoracic spine.",
     "IMPRESSION: Small left pleural effusion.",
     "60046008", "Pleural effusion"),
)


def report_series_uid(spec: StudySpec) -> str:
    """SeriesInstanceUID of the report series."""
    return uids.derive_uid(common.study_instance_uid(spec), "series", "report")


def report_sop_uid(spec: StudySpec) -> str:
    """SOPInstanceUID of the report."""
    return uids.derive_uid(report_series_uid(spec), "report")


def make_report(spec: StudySpec, evidence: Sequence[tuple[str, Sequence[str]]]) -> Dataset:
    """The report of a study; `evidence` lists (series UID, SOP instance UIDs) it reads."""
    findings, impression, code, meaning = _NARRATIVES[spec.seed % len(_NARRATIVES)]
    verified_date, verified_time = common.add_seconds(spec.study_date, spec.study_time, 5400)
    ds = Dataset()
    common.add_patient_and_study(ds, spec)
    ds.SOPClassUID = BasicTextSRStorage
    ds.SOPInstanceUID = report_sop_uid(spec)
    ds.InstanceCreationDate = ds.ContentDate = ds.SeriesDate = verified_date
    ds.InstanceCreationTime = ds.ContentTime = ds.SeriesTime = verified_time
    ds.Modality = "SR"
    ds.Manufacturer = "EXAMPLE REPORTING SYSTEM"
    common.add_institution(ds, spec)
    ds.SeriesDescription = "RADIOLOGY REPORT"
    ds.SeriesInstanceUID = report_series_uid(spec)
    ds.SeriesNumber = 999
    ds.InstanceNumber = 1
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "VERIFIED"
    observer = Dataset()
    observer.VerifyingObserverName = "WILSON^JAMES^^DR."
    observer.VerifyingObserverIdentificationCodeSequence = []
    observer.VerifyingOrganization = spec.institution_name
    observer.VerificationDateTime = verified_date + verified_time
    ds.VerifyingObserverSequence = [observer]
    procedure = common.code_item("CTCHWO", "99EGH", spec.study_description)
    ds.PerformedProcedureCodeSequence = [procedure]
    ds.CurrentRequestedProcedureEvidenceSequence = _evidence(spec, evidence)
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = [common.code_item("18748-4", "LN", "Diagnostic Imaging Report")]
    ds.ContinuityOfContent = "SEPARATE"
    ds.ContentSequence = [
        _text("121060", "History", "HISTORY: Chronic cough. Former smoker."),
        _text("121071", "Finding", findings),
        _text("121073", "Impression", impression),
        _coded("121071", "Finding", common.code_item(code, "SCT", meaning)),
    ]
    ds.file_meta = common.file_meta(ds.SOPClassUID, ds.SOPInstanceUID)
    return ds


def _evidence(spec: StudySpec, evidence: Sequence[tuple[str, Sequence[str]]]) -> list[Dataset]:
    if not evidence:
        return []
    sop_class = CTImageStorage if spec.modality == "CT" else MRImageStorage
    study = Dataset()
    study.StudyInstanceUID = common.study_instance_uid(spec)
    study.ReferencedSeriesSequence = []
    for series_uid, sop_uids in evidence:
        series = Dataset()
        series.SeriesInstanceUID = series_uid
        series.ReferencedSOPSequence = []
        for sop_uid in sop_uids:
            reference = Dataset()
            reference.ReferencedSOPClassUID = sop_class
            reference.ReferencedSOPInstanceUID = sop_uid
            series.ReferencedSOPSequence.append(reference)
        study.ReferencedSeriesSequence.append(series)
    return [study]


def _text(code: str, meaning: str, text: str) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "TEXT"
    item.ConceptNameCodeSequence = [common.code_item(code, "DCM", meaning)]
    item.TextValue = text
    return item


def _coded(code: str, meaning: str, value: Dataset) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "CODE"
    item.ConceptNameCodeSequence = [common.code_item(code, "DCM", meaning)]
    item.ConceptCodeSequence = [value]
    return item
