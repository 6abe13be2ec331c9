"""QIDO-RS: GET /dicomweb/studies, /series, /instances and their scoped forms (§10.6).

The query is parsed (service.dicomweb.query), SQL narrows and orders the rows
(service.store.qido_search), keys SQL cannot decide are matched in Python over the
stored DICOM JSON (service.dicomweb.matching), and each result is cut down to
the attributes the level returns (service.dicomweb.answers).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from flask import Response, request

from service.api import engine, params, settings
from service.api.dicomweb import DICOM_JSON, base_url, blueprint
from service.dicomweb import levels
from service.dicomweb.answers import answer_keys, computed, needs_whole_instance, select
from service.dicomweb.matching import Options, matches_all
from service.dicomweb.query import QidoQuery, QueryError, parse_query
from service.dicomweb.uris import rewrite_bulkdata_uris
from service.problems import BadRequest, NotAcceptable, NotFound
from service.store import qido_search
from service.store.qido_search import Scope

STUDY, SERIES, INSTANCE = levels.STUDY, levels.SERIES, levels.INSTANCE


@blueprint.get("/studies")
def search_studies() -> Response:
    return _search(STUDY, Scope(), ())


@blueprint.get("/series")
def search_all_series() -> Response:
    return _search(SERIES, Scope(), ())


@blueprint.get("/instances")
def search_all_instances() -> Response:
    return _search(INSTANCE, Scope(), ())


@blueprint.get("/studies/<study>/series")
def search_series(study: str) -> Response:
    return _search(SERIES, Scope(params.uid(study, "study")), (STUDY,))


@blueprint.get("/studies/<study>/instances")
def search_study_instances(study: str) -> Response:
    return _search(INSTANCE, Scope(params.uid(study, "study")), (STUDY,))


@blueprint.get("/studies/<study>/series/<series>/instances")
def search_instances(study: str, series: str) -> Response:
    scope = Scope(params.uid(study, "study"), params.uid(series, "series"))
    return _search(INSTANCE, scope, (STUDY, SERIES))


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


def _search(level: str, scope: Scope, fixed: tuple[str, ...]) -> Response:
    check_accept_json()
    query = _parse(level)
    if scope.study_uid is not None and not qido_search.scope_exists(engine(), scope):
        what = f"series {scope.series_uid} of study" if scope.series_uid else "study"
        raise NotFound(f"{what} {scope.study_uid} is not stored")
    keys = None if query.include_all else answer_keys(query, fixed)
    found = qido_search.find_candidates(engine(), query, scope,
                                 whole_instance=needs_whole_instance(query, keys))
    datasets = _Datasets(level, base_url())
    results: list[dict[str, Any]] = []
    if found.residual:
        options, total = Options.of(query), 0
        for row in found.rows:
            dataset = datasets.of(row)
            if matches_all(dataset, found.residual, options):
                total += 1
                if query.offset < total <= query.offset + query.limit:
                    results.append(select(dataset, keys))
    else:
        total = found.total
        results = [select(datasets.of(row), keys) for row in found.rows]
    base = datasets.base
    if not results and total > 0:
        return Response(status=204)  # offset past the end: nothing more (§8.3.4.4)
    response = Response(rewrite_bulkdata_uris(orjson.dumps(results), base), mimetype=DICOM_JSON)
    remaining = total - query.offset - len(results)
    if remaining > 0 and (query.capped or "limit" not in request.args):
        # The server's limit cut the answer: say so (§8.3.4.4), never truncate silently.
        response.headers["Warning"] = (f"299 {base}/dicomweb: There are {remaining} additional "
                                       "results that can be requested")
    response.headers["Cache-Control"] = "no-cache"
    return response


@lru_cache(maxsize=256)
def _parsed(level_json: bytes | None) -> dict[str, Any]:
    """A study or series level JSON, parsed once for the many rows that share it (callers
    copy before changing it)."""
    return orjson.loads(level_json) if level_json else {}


class _Datasets:
    """Each row's stored DICOM JSON of its levels merged, with the computed attributes.

    The study (and series) part is built once per study (series) of a search and shared
    by its rows: an instance search of one series merges it once, not per instance.
    """

    def __init__(self, level: str, base: str) -> None:
        self.level, self.base = level, base
        self._parents: dict[tuple[str, str | None], dict[str, Any]] = {}

    def of(self, row: Any) -> dict[str, Any]:
        if self.level == STUDY:
            return self._study(row)
        parent = self._parents.get((row.study_uid, row.series_uid))
        if parent is None:
            parent = self._parents[(row.study_uid, row.series_uid)] = self._series(row)
        if self.level == SERIES:
            return dict(parent)
        dataset = {**parent, **orjson.loads(row.instance_json)}
        dataset.update(computed(INSTANCE, retrieve_url=f"{self.base}/dicomweb/studies/"
                                f"{row.study_uid}/series/{row.series_uid}/instances/{row.sop_uid}"))
        return dataset

    def _study(self, row: Any) -> dict[str, Any]:
        study_url = f"{self.base}/dicomweb/studies/{row.study_uid}"
        modalities = [m for m in (row.modalities or "").split("\\") if m]
        dataset: dict[str, Any] = dict(_parsed(row.study_json))
        dataset.setdefault(levels.STUDY_UID, {"vr": "UI", "Value": [row.study_uid]})
        dataset.update(computed(STUDY, retrieve_url=study_url, modalities=modalities,
                                study_series=row.series_count,
                                study_instances=row.study_instances))
        return dataset

    def _series(self, row: Any) -> dict[str, Any]:
        dataset = self._study(row)
        dataset.update(_parsed(row.series_json))
        dataset.setdefault(levels.SERIES_UID, {"vr": "UI", "Value": [row.series_uid]})
        dataset.update(computed(SERIES, retrieve_url=f"{self.base}/dicomweb/studies/"
                                f"{row.study_uid}/series/{row.series_uid}",
                                series_instances=row.series_instances))
        return dataset
