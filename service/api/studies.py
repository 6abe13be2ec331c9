"""Studies, series and instances as normalized resources; SR reports of a study."""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, request

from service.api import engine, json_response, params, settings
from service.errors import BadRequest, NotFound
from service.store import queries, repository
from service.usecases.reports import study_reports

blueprint = Blueprint("studies", __name__, url_prefix="/v1/studies")

STUDY_FILTERS = ("PatientID", "PatientName", "StudyDate", "AccessionNumber",
                 "ModalitiesInStudy", "StudyInstanceUID")
PAGING = ("limit", "offset")


def _page_args() -> tuple[int, int]:
    config = settings()
    return params.page(request.args, config.default_page_limit, config.max_page_limit)


def _study_query() -> queries.StudyQuery:
    args = request.args
    unknown = sorted(set(args) - set(STUDY_FILTERS) - set(PAGING))
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}; filters are "
                         f"{', '.join(STUDY_FILTERS)}", parameter=unknown[0])
    query = queries.StudyQuery()
    query.limit, query.offset = _page_args()
    query.patient_id = args.get("PatientID") or None
    query.patient_name = args.get("PatientName") or None
    if args.get("StudyDate"):
        query.study_date_from, query.study_date_to = params.date_range(args["StudyDate"],
                                                                       "StudyDate")
    query.accession_number = args.get("AccessionNumber") or None
    if args.get("ModalitiesInStudy"):
        query.modalities = [m.strip().upper() for m in args["ModalitiesInStudy"].split(",")
                            if m.strip()]
    if args.get("StudyInstanceUID"):
        query.study_uids = params.uid_list(args["StudyInstanceUID"], "StudyInstanceUID")
    return query


@blueprint.get("")
def search_studies() -> Response:
    return json_response(queries.search_studies(engine(), _study_query()).to_json())


@blueprint.get("/<study>")
def get_study(study: str) -> Response:
    body = queries.get_study(engine(), params.uid(study, "study"))
    if body is None:
        raise NotFound(f"study {study} is not stored")
    return json_response(body)


@blueprint.delete("/<study>")
def delete_study(study: str) -> Response:
    if not repository.delete_study(engine(), params.uid(study, "study")):
        raise NotFound(f"study {study} is not stored")
    return Response(status=204)


@blueprint.get("/<study>/series")
def list_series(study: str) -> Response:
    limit, offset = _page_args()
    page = queries.list_series(engine(), params.uid(study, "study"), limit, offset)
    if page is None:
        raise NotFound(f"study {study} is not stored")
    return json_response(page.to_json())


@blueprint.get("/<study>/series/<series>")
def get_series(study: str, series: str) -> Response:
    body = queries.get_series(engine(), params.uid(study, "study"), params.uid(series, "series"))
    if body is None:
        raise NotFound(f"series {series} of study {study} is not stored")
    return json_response(body)


@blueprint.get("/<study>/series/<series>/instances")
def list_instances(study: str, series: str) -> Response:
    limit, offset = _page_args()
    page = queries.list_instances(engine(), params.uid(study, "study"),
                                  params.uid(series, "series"), limit, offset)
    if page is None:
        raise NotFound(f"series {series} of study {study} is not stored")
    return json_response(page.to_json())


@blueprint.get("/<study>/series/<series>/instances/<instance>")
def get_instance(study: str, series: str, instance: str) -> Response:
    view = request.args.get("view", "normalized")
    if view not in ("normalized", "dicom"):
        raise BadRequest("view must be 'normalized' or 'dicom'", parameter="view")
    stored = queries.get_instance(engine(), params.uid(study, "study"),
                                  params.uid(series, "series"), params.uid(instance, "instance"),
                                  dicom_json=view == "dicom")
    if stored is None:
        raise NotFound(f"instance {instance} of series {series} is not stored")
    if view == "dicom":
        return json_response(stored.body, mimetype="application/dicom+json")
    return json_response(stored.body)


@blueprint.get("/<study>/reports")
def list_reports(study: str) -> Response:
    reports = study_reports(engine(), params.uid(study, "study"))
    return json_response(orjson.dumps({"items": reports, "total": len(reports)}))
