"""The reports of a study: its Structured Report instances, each as a text and JSON tree."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from service.dicom.json_model import load_json
from service.errors import NotFound
from service.store import queries


def study_reports(engine: Engine, study_uid: str) -> list[dict[str, Any]]:
    """Every SR instance of the study as service.dicom.report builds it; 404 when the study
    is not stored."""
    # Imported here: pydicom's UID tables load only when reports are asked for.
    from service.dicom.report import build_report, is_sr

    if not queries.study_exists(engine, study_uid):
        raise NotFound(f"study {study_uid} is not stored")
    reports = []
    for raw in queries.study_instances_json(engine, study_uid, modality="SR"):
        instance = load_json(raw)
        if is_sr(instance):
            reports.append(build_report(instance))
    return reports
