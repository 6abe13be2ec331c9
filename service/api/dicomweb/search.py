"""QIDO-RS: GET /dicomweb/studies, /series, /instances and their scoped forms (§10.6).

The query is parsed here (service.dicomweb.query); the search itself (SQL,
matching leftovers, paging, dataset assembly) is service.usecases.dicomweb.search.
This view renders its page: 204 past the end, a Warning when the server's limit
held results back.
"""

from __future__ import annotations

import orjson
from flask import Response, request

from service.api import engine, params, settings
from service.api.dicomweb import DICOM_JSON, base_url, blueprint
from service.dicomweb import levels
from service.dicomweb.query import QidoQuery, QueryError, parse_query
from service.dicomweb.uris import rewrite_bulkdata_uris
from service.errors import BadRequest, NotAcceptable
from service.usecases.dicomweb.search import SearchQuery, search

STUDY, SERIES, INSTANCE = levels.STUDY, levels.SERIES, levels.INSTANCE


@blueprint.get("/studies")
def search_studies() -> Response:
    return _search(STUDY)


@blueprint.get("/series")
def search_all_series() -> Response:
    return _search(SERIES)


@blueprint.get("/instances")
def search_all_instances() -> Response:
    return _search(INSTANCE)


@blueprint.get("/studies/<study>/series")
def search_series(study: str) -> Response:
    return _search(SERIES, params.uid(study, "study"))


@blueprint.get("/studies/<study>/instances")
def search_study_instances(study: str) -> Response:
    return _search(INSTANCE, params.uid(study, "study"))


@blueprint.get("/studies/<study>/series/<series>/instances")
def search_instances(study: str, series: str) -> Response:
    return _search(INSTANCE, params.uid(study, "study"), params.uid(series, "series"))


def check_accept_json() -> None:
    """QIDO and metadata answer DICOM JSON only; 406 for what cannot be met (e.g. XML)."""
    if request.headers.get("Accept", "").strip() and request.accept_mimetypes.best_match(
            [DICOM_JSON, "application/json"]) is None:
        raise NotAcceptable(f"This server answers {DICOM_JSON}.", available=[DICOM_JSON])


def _parse(level: str) -> QidoQuery:
    config = settings()
    try:
        return parse_query(request.args.items(multi=True), level,
                           default_limit=config.qido_default_limit,
                           max_limit=config.qido_max_limit)
    except QueryError as exc:
        raise BadRequest(str(exc), parameter=exc.parameter) from exc


def _search(level: str, study_uid: str | None = None, series_uid: str | None = None
            ) -> Response:
    check_accept_json()
    query = _parse(level)
    base = base_url()
    result = search(engine(), SearchQuery(query, base, study_uid, series_uid,
                                          limit_given="limit" in request.args))
    if result.past_end:
        return Response(status=204)  # offset past the end: nothing more (§8.3.4.4)
    response = Response(rewrite_bulkdata_uris(orjson.dumps(result.datasets), base),
                        mimetype=DICOM_JSON)
    if result.held_back:
        # The server's limit cut the answer: say so (§8.3.4.4), never truncate silently.
        response.headers["Warning"] = (f"299 {base}/dicomweb: There are {result.held_back} "
                                       "additional results that can be requested")
    response.headers["Cache-Control"] = "no-cache"
    return response
