"""QIDO-RS answers: the attributes each result carries, as DICOM JSON (PS3.18 §10.6.3.3).

A result carries the required attributes of its level — and of the parent levels
when the search path does not fix them (all-series and all-instances searches) —,
the attributes used as matching keys, and those asked with `includefield`
(`all`: every stored attribute). A private attribute comes with its private
creator, so that the answer can still be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from service.dicom import dictionary, tags
from service.dicom.records import QIDO_INSTANCE_KEYS
from service.dicomweb import levels
from service.dicomweb.query import QidoQuery

_STORED_APART = frozenset(QIDO_INSTANCE_KEYS)


def computed(level: str, *, retrieve_url: str, modalities: list[str] | None = None,
             study_series: int | None = None, study_instances: int | None = None,
             series_instances: int | None = None) -> dict[str, Any]:
    """The attributes the service computes for one result of `level`."""
    found: dict[str, Any] = {
        tags.RETRIEVE_URL: {"vr": "UR", "Value": [retrieve_url]},
        tags.INSTANCE_AVAILABILITY: {"vr": "CS", "Value": ["ONLINE"]},
    }
    if modalities is not None:
        found[tags.MODALITIES_IN_STUDY] = ({"vr": "CS", "Value": modalities} if modalities
                                             else {"vr": "CS"})
    for key, count in ((tags.NUMBER_OF_STUDY_RELATED_SERIES, study_series),
                       (tags.NUMBER_OF_STUDY_RELATED_INSTANCES, study_instances),
                       (tags.NUMBER_OF_SERIES_RELATED_INSTANCES, series_instances)):
        if count is not None:
            found[key] = {"vr": "IS", "Value": [count]}
    return found


def answer_keys(query: QidoQuery, fixed_levels: tuple[str, ...]) -> frozenset[str]:
    """The top-level keys a result carries (when not includefield=all)."""
    keys: set[str] = set(levels.COMMON) | query.answer_keys()
    rank = levels.level_rank(query.level)
    for level in levels.LEVELS[:rank + 1]:
        if level == query.level or level not in fixed_levels:
            keys.update(levels.REQUIRED[level])
    return frozenset(keys)


def needs_whole_instance(query: QidoQuery, keys: frozenset[str] | None) -> bool:
    """Whether an instance search must read each instance's whole stored JSON: when the
    answer (`keys`, None: includefield=all) or a matching key names an instance-level
    attribute outside the QIDO attributes stored apart (records.QIDO_INSTANCE_KEYS)."""
    if query.level != levels.INSTANCE:
        return False
    if keys is None:
        return True
    wanted = keys | {f.key for f in query.matching}
    return any(key not in _STORED_APART and key not in levels.COMPUTED
               and levels.level_of(key) == levels.INSTANCE for key in wanted)


@dataclass(frozen=True, slots=True)
class _Plan:
    ordered: tuple[str, ...]  # the keys and their private creators, in tag order
    creators: dict[str, str]  # private element key → its creator's key
    creators_only: frozenset[str]  # creators not asked for themselves


@lru_cache(maxsize=256)
def _plan(keys: frozenset[str]) -> _Plan:
    creators: dict[str, str] = {}
    for key in keys:
        tag = int(key, 16)
        if dictionary.is_private(tag) and not dictionary.is_private_creator(tag):
            creators[key] = dictionary.tag_key(dictionary.private_creator_tag(tag))
    return _Plan(tuple(sorted(keys | set(creators.values()))), creators,
                 frozenset(creators.values()) - keys)


def select(dataset: dict[str, Any], keys: frozenset[str] | None) -> dict[str, Any]:
    """The attributes of `dataset` named by `keys` (None: all), in tag order; a private
    attribute brings its private creator."""
    if keys is None:
        return {key: dataset[key] for key in sorted(dataset)}
    plan = _plan(keys)
    chosen = {key: dataset[key] for key in plan.ordered if key in dataset}
    if plan.creators_only:
        # A creator that only its elements asked for stays only when one of them is here.
        needed = {creator for key, creator in plan.creators.items() if key in chosen}
        for creator in plan.creators_only - needed:
            chosen.pop(creator, None)
    return chosen
