"""SR datasets built with pydicom, and pydicom's own reading of their content tree.

The expected text/tree is computed from pydicom's attribute access on the same
dataset (ds.ContentSequence, item.ValueType, …), never hand-typed.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydicom import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import BasicTextSRStorage, ComprehensiveSRStorage, generate_uid

from service.examples.common import code_item


def content_item(relationship: str | None, value_type: str | None,
                 concept: tuple[str, str, str] | None, **attributes: Any) -> Dataset:
    item = Dataset()
    if relationship:
        item.RelationshipType = relationship
    if value_type:
        item.ValueType = value_type
    if concept:
        item.ConceptNameCodeSequence = [code_item(*concept)]
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def text(concept: tuple[str, str, str], value: str) -> Dataset:
    return content_item("CONTAINS", "TEXT", concept, TextValue=value)


def container(concept: tuple[str, str, str] | None, children: list[Dataset],
              relationship: str = "CONTAINS") -> Dataset:
    return content_item(relationship, "CONTAINER", concept, ContinuityOfContent="SEPARATE",
                        ContentSequence=Sequence(children))


def num(concept: tuple[str, str, str], value: str, unit: tuple[str, str, str]) -> Dataset:
    measured = Dataset()
    measured.NumericValue = value
    measured.MeasurementUnitsCodeSequence = [code_item(*unit)]
    return content_item("CONTAINS", "NUM", concept, MeasuredValueSequence=[measured])


def sr_dataset(children: list[Dataset], *, sop_class: str = ComprehensiveSRStorage,
               title: tuple[str, str, str] = ("18748-4", "LN", "Diagnostic Imaging Report")
               ) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.Modality = "SR"
    ds.ContentDate = "20240312"
    ds.ContentTime = "101502.25"
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "VERIFIED"
    observer = Dataset()
    observer.VerifyingObserverName = "RADIOLOGIST^ANNA^^DR."
    observer.VerifyingOrganization = "General Hospital"
    observer.VerificationDateTime = "20240312113000+0100"
    observer.VerifyingObserverIdentificationCodeSequence = []
    ds.VerifyingObserverSequence = [observer]
    author = Dataset()
    author.ObserverType = "PSN"
    author.PersonName = "RESIDENT^BOB"
    author.InstitutionName = "General Hospital"
    ds.AuthorObserverSequence = [author]
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = [code_item(*title)]
    ds.ContinuityOfContent = "SEPARATE"
    ds.ContentSequence = Sequence(children)
    return ds


@pytest.fixture
def radiology_sr() -> Dataset:
    """Root → Findings (TEXT ×2, NUM, CODE, nested CONTAINER → TEXT) → Impression (TEXT)."""
    findings = container(("121070", "DCM", "Findings"), [
        text(("121071", "DCM", "Finding"), "Lungs are clear.\nNo effusion."),
        text(("121071", "DCM", "Finding"), "Heart size is normal."),
        num(("410668003", "SCT", "Length"), "12.50", ("mm", "UCUM", "millimeter")),
        content_item("CONTAINS", "CODE", ("121071", "DCM", "Finding"),
                     ConceptCodeSequence=[code_item("233604007", "SCT", "Pneumonia")]),
        container(("121072", "DCM", "Comparison"), [
            text(("121073", "DCM", "Comparison finding"), "Unchanged since 2023."),
        ]),
        content_item("HAS OBS CONTEXT", "DATE", ("111060", "DCM", "Study Date"),
                     Date="20240311"),
        content_item("HAS OBS CONTEXT", "PNAME", ("121008", "DCM", "Person Observer Name"),
                     PersonName="SMITH^JOHN"),
        content_item("HAS OBS CONTEXT", "UIDREF", ("121018", "DCM", "Procedure Study UID"),
                     UID=generate_uid()),
    ])
    impression = container(("121073", "DCM", "Impression"), [
        text(("121073", "DCM", "Impression"), "No acute disease."),
    ])
    return sr_dataset([findings, impression])


@pytest.fixture
def basic_text_sr() -> Dataset:
    """The flat Basic Text SR shape: root → TEXT "Findings", TEXT "Impression"."""
    return sr_dataset([
        text(("121070", "DCM", "Findings"), "Small nodule in the right upper lobe."),
        text(("121073", "DCM", "Impression"), "Follow-up CT in 12 months."),
    ], sop_class=BasicTextSRStorage)
