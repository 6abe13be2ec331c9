"""QIDO-RS search (PS3.18 §10.6): a parsed query over a scope → one page of result datasets.

SQL narrows and orders the rows (service.store.qido_search); keys SQL cannot decide are
matched here in Python over the stored DICOM JSON (service.dicomweb.matching),
and paging counts only the rows that match; each result is cut down to the
attributes the level returns (service.dicomweb.answers).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Engine

from service.dicom import tags
from service.dicomweb import levels
from service.dicomweb.answers import answer_keys, computed, needs_whole_instance, select
from service.dicomweb.matching import Options, matches_all
from service.errors import NotFound
from service.store import qido_search
from service.store.qido_search import Scope
from service.usecases.dicomweb.types import SearchQuery, SearchResult

STUDY, SERIES, INSTANCE = levels.STUDY, levels.SERIES, levels.INSTANCE


def search(engine: Engine, search_query: SearchQuery) -> SearchResult:
    """The page the query asks for; 404 when the scoping study or series is not stored."""
    query = search_query.query
    scope = Scope(search_query.study_uid, search_query.series_uid)
    if scope.study_uid is not None and not qido_search.scope_exists(engine, scope):
        what = f"series {scope.series_uid} of study" if scope.series_uid else "study"
        raise NotFound(f"{what} {scope.study_uid} is not stored")
    # The scoping levels are fixed by the path: their UIDs need not be asked for.
    fixed = (STUDY,) * (scope.study_uid is not None) + (SERIES,) * (scope.series_uid is not None)
    keys = None if query.include_all else answer_keys(query, fixed)
    found = qido_search.find_candidates(engine, query, scope,
                                 whole_instance=needs_whole_instance(query, keys))
    datasets = _Datasets(query.level, search_query.base_url)
    answer = _answer_of(query.level, search_query.base_url, keys, datasets)
    results: list[Any] = []
    if found.residual:
        options, total = Options.of(query), 0
        for row in found.rows:
            dataset = datasets.of(row)
            if matches_all(dataset, found.residual, options):
                total += 1
                if query.offset < total <= query.offset + query.limit:
                    results.append(answer(row, dataset))
    else:
        total = found.total
        results = [answer(row, None) for row in found.rows]
    remaining = total - query.offset - len(results)
    held_back = remaining if remaining > 0 and (query.capped or not search_query.limit_given) \
        else 0
    return SearchResult(results, total, held_back)


def _answer_of(level: str, base: str, keys: frozenset[str] | None, datasets: _Datasets
               ) -> Callable[[Any, dict[str, Any] | None], Any]:
    """How one row (and its dataset, when matching built it) becomes one result."""
    if level == STUDY:
        return lambda row, _: _study_answer(row, base, keys)
    return lambda row, dataset: select(dataset if dataset is not None else datasets.of(row),
                                       keys)


# A study result is a function of its row (hashable: the tuple of its values), the base
# URL and the answer keys alone: kept as the JSON it writes (orjson.Fragment: orjson.dumps
# copies it as is), so that the studies a search lists again and again are not merged, cut
# down and serialized on every request.
@lru_cache(maxsize=1024)
def _study_answer(row: Any, base: str, keys: frozenset[str] | None) -> orjson.Fragment:
    dataset = _study_dataset(row.study_uid, row.study_json, row.modalities, row.series_count,
                             row.study_instances, base)
    return orjson.Fragment(orjson.dumps(select(dataset, keys)))


def _study_dataset(study_uid: str, study_json: bytes | None, modalities: str | None,
                   series_count: int, study_instances: int, base: str) -> dict[str, Any]:
    dataset: dict[str, Any] = dict(_parsed(study_json))
    dataset.setdefault(tags.STUDY_INSTANCE_UID, {"vr": "UI", "Value": [study_uid]})
    dataset.update(computed(STUDY, retrieve_url=f"{base}/dicomweb/studies/{study_uid}",
                            modalities=[m for m in (modalities or "").split("\\") if m],
                            study_series=series_count, study_instances=study_instances))
    return dataset


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
        return _study_dataset(row.study_uid, row.study_json, row.modalities, row.series_count,
                              row.study_instances, self.base)

    def _series(self, row: Any) -> dict[str, Any]:
        dataset = self._study(row)
        dataset.update(_parsed(row.series_json))
        dataset.setdefault(tags.SERIES_INSTANCE_UID, {"vr": "UI", "Value": [row.series_uid]})
        dataset.update(computed(SERIES, retrieve_url=f"{self.base}/dicomweb/studies/"
                                f"{row.study_uid}/series/{row.series_uid}",
                                series_instances=row.series_instances))
        return dataset
