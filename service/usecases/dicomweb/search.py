"""QIDO-RS search (PS3.18 §10.6): a parsed query over a scope → one page of result datasets.

SQL narrows and orders the rows (service.store.qido_search); keys SQL cannot decide are
matched here in Python over the stored DICOM JSON (service.dicomweb.matching),
and paging counts only the rows that match; each result is cut down to the
attributes the level returns (service.dicomweb.answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Engine

from service.dicomweb import levels
from service.dicomweb.answers import answer_keys, computed, needs_whole_instance, select
from service.dicomweb.matching import Options, matches_all
from service.dicomweb.query import QidoQuery
from service.errors import NotFound
from service.store import qido_search
from service.store.qido_search import Scope

STUDY, SERIES, INSTANCE = levels.STUDY, levels.SERIES, levels.INSTANCE


@dataclass(frozen=True)
class SearchQuery:
    """A parsed QIDO query (its level included), within a study (and series) or everywhere.

    `base_url` is the service's root as the client sees it (for RetrieveURLs);
    `limit_given` says whether the client chose the page size itself.
    """

    query: QidoQuery
    base_url: str
    study_uid: str | None = None
    series_uid: str | None = None
    limit_given: bool = False


@dataclass(frozen=True)
class SearchResult:
    """One page: its datasets, how many match in all, and how many more the server's own
    limit held back (to be announced, never truncated silently; 0 when the client set it)."""

    datasets: list[dict[str, Any]]
    total: int
    held_back: int

    @property
    def past_end(self) -> bool:
        """Matches exist but the offset is past them: nothing more (§8.3.4.4)."""
        return not self.datasets and self.total > 0


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
    remaining = total - query.offset - len(results)
    held_back = remaining if remaining > 0 and (query.capped or not search_query.limit_given) \
        else 0
    return SearchResult(results, total, held_back)


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
