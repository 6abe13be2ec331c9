"""Imports from a Google DICOM store: what to import, the job resource, create/read/cancel.

An import names a DICOM store and a selection: a list of Study Instance UIDs, or QIDO-RS
filters (StudyDate range, PatientID, ModalitiesInStudy, AccessionNumber). Creating one
only writes its rows; the work (search, then each study's metadata through the ingest
path of POST /v1/dumps) is done by whichever worker claims it
(service/usecases/import_worker.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Engine

from service.bulkdata.store_reader import STORE_PATH
from service.dicom.json_model import is_valid_uid
from service.errors import BadRequest, Conflict, NotFound
from service.store import imports as store
from service.usecases.types import ImportRequest

FILTERS = ("StudyDate", "PatientID", "ModalitiesInStudy", "AccessionNumber")
MAX_STUDY_UIDS = 10000
_DATE = r"\d{8}"
_DATE_RANGE = re.compile(rf"^(?:{_DATE}|{_DATE}-(?:{_DATE})?|-{_DATE})$")
_CODE_STRING = re.compile(r"^[A-Z0-9 _]{1,16}$")
_ID_TEXT = re.compile(r"^[^\\\x00-\x1f]{1,64}$")
STUDY_STATES = ("queued", "running", "done", "unchanged", "failed", "cancelled")


def parse_request(body: Any, default_store: str | None) -> ImportRequest:
    """The import a JSON body asks for; BadRequest naming the offending field."""
    if not isinstance(body, Mapping):
        raise BadRequest("the body must be a JSON object", pointer="/")
    unknown = sorted(set(body) - {"store", "study_uids", "filters"})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}", pointer=f"/{unknown[0]}")
    store_path = body.get("store", default_store)
    if store_path is None:
        raise BadRequest("name the DICOM store (or set DICOM_RESOLVER_DICOM_STORE)",
                         pointer="/store")
    if not isinstance(store_path, str) or not STORE_PATH.match(store_path.strip("/")):
        raise BadRequest("store must look like projects/P/locations/L/datasets/D/"
                         "dicomStores/S", pointer="/store")
    has_uids, has_filters = "study_uids" in body, "filters" in body
    if has_uids == has_filters:
        raise BadRequest("give exactly one of study_uids and filters", pointer="/")
    if has_uids:
        return ImportRequest(store_path.strip("/"), study_uids=_study_uids(body["study_uids"]))
    return ImportRequest(store_path.strip("/"), filters=parse_filters(body["filters"]))


def _study_uids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise BadRequest("study_uids must be a non-empty array", pointer="/study_uids")
    if len(value) > MAX_STUDY_UIDS:
        raise BadRequest(f"at most {MAX_STUDY_UIDS} study_uids per import",
                         pointer="/study_uids")
    for index, uid in enumerate(value):
        if not isinstance(uid, str) or not is_valid_uid(uid):
            raise BadRequest("each study UID must be digits and dots, at most 64 characters",
                             pointer=f"/study_uids/{index}")
    return tuple(dict.fromkeys(value))  # in order, each once


def parse_filters(value: Any) -> dict[str, str]:
    """QIDO-RS filters, checked against the VR of each attribute."""
    if not isinstance(value, Mapping):
        raise BadRequest("filters must be an object", pointer="/filters")
    filters: dict[str, str] = {}
    for name, raw in value.items():
        pointer = f"/filters/{name}"
        if name not in FILTERS:
            raise BadRequest(f"filters may hold {', '.join(FILTERS)}", pointer=pointer)
        if not isinstance(raw, str) or not raw:
            raise BadRequest(f"{name} must be a non-empty string", pointer=pointer)
        if name == "StudyDate" and not _DATE_RANGE.match(raw):
            raise BadRequest("StudyDate must be YYYYMMDD or a range A-B, A- or -B",
                             pointer=pointer)
        if name == "StudyDate" and "-" in raw.strip("-"):
            low, high = raw.split("-")
            if low > high:
                raise BadRequest("StudyDate range starts after it ends", pointer=pointer)
        if name == "ModalitiesInStudy" and not _CODE_STRING.match(raw):
            raise BadRequest("ModalitiesInStudy must be a modality code such as CT",
                             pointer=pointer)
        if name in ("PatientID", "AccessionNumber") and not _ID_TEXT.match(raw):
            raise BadRequest(f"{name} must be 1-64 characters without backslash or control "
                             "characters", pointer=pointer)
        filters[name] = raw
    return filters


def create_import(engine: Engine, request: ImportRequest) -> dict[str, Any]:
    """Queue an import; answers its resource."""
    import_id = uuid.uuid4().hex
    store.create(engine, import_id, request.store, orjson.dumps(request.selection()),
                 list(request.study_uids) if request.study_uids else None)
    return get_import(engine, import_id)


def get_import(engine: Engine, import_id: str) -> dict[str, Any]:
    row = store.read(engine, import_id) if _is_id(import_id) else None
    if row is None:
        raise NotFound(f"no import {import_id[:40]!r}", import_id=import_id[:40])
    return render(row)


def cancel_import(engine: Engine, import_id: str) -> dict[str, Any]:
    """Cancel an unfinished import (studies under way finish; queued ones never start)."""
    current = get_import(engine, import_id)
    if not store.cancel(engine, import_id):
        raise Conflict(f"import {import_id} is already {current['state']}",
                       state=current["state"])
    return get_import(engine, import_id)


def render(row: Mapping[str, Any]) -> dict[str, Any]:
    counts = {state: int(row["counts"].get(state, 0)) for state in STUDY_STATES}
    return {
        "id": row["id"],
        "store": row["store"],
        "selection": orjson.loads(row["selection"]),
        "state": row["state"],
        "studies": {"found": sum(counts.values()), **counts},
        "instances": row["instances"],
        "failures": row["failures"],
        "error": row["error"],
        "created_at": _time(row["created_at"]),
        "started_at": _time(row["started_at"]),
        "finished_at": _time(row["finished_at"]),
    }


def _time(value: Any) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite keeps no zone: everything is written in UTC
        return value.isoformat() + "Z"
    return value.isoformat().replace("+00:00", "Z")


def _is_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)
