"""QIDO-RS answers: the attributes each result carries, as DICOM JSON (PS3.18 §10.6.3.3).

A result carries the required attributes of its level — and of the parent levels
when the search path does not fix them (all-series and all-instances searches) —,
the attributes used as matching keys, and those asked with `includefield`
(`all`: every stored attribute). A private attribute comes with its private
creator, so that the answer can still be read.
"""

from __future__ import annotations

from typing import Any

from service.dicom import dictionary
from service.dicomweb import levels
from service.dicomweb.query import QidoQuery


def computed(level: str, *, retrieve_url: str, modalities: list[str] | None = None,
             study_series: int | None = None, study_instances: int | None = None,
             series_instances: int | None = None) -> dict[str, Any]:
    """The attributes the service computes for one result of `level`."""
    found: dict[str, Any] = {
        levels.RETRIEVE_URL: {"vr": "UR", "Value": [retrieve_url]},
        levels.INSTANCE_AVAILABILITY: {"vr": "CS", "Value": ["ONLINE"]},
    }
    if modalities is not None:
        found[levels.MODALITIES_IN_STUDY] = ({"vr": "CS", "Value": modalities} if modalities
                                             else {"vr": "CS"})
    for key, count in ((levels.STUDY_RELATED_SERIES, study_series),
                       (levels.STUDY_RELATED_INSTANCES, study_instances),
                       (levels.SERIES_RELATED_INSTANCES, series_instances)):
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


def select(dataset: dict[str, Any], keys: frozenset[str] | None) -> dict[str, Any]:
    """The attributes of `dataset` named by `keys` (None: all), in tag order."""
    if keys is None:
        chosen = set(dataset)
    else:
        chosen = {key for key in keys if key in dataset}
        for key in list(chosen):
            tag = int(key, 16)
            if dictionary.is_private(tag) and not dictionary.is_private_creator(tag):
                creator = dictionary.tag_key(dictionary.private_creator_tag(tag))
                if creator in dataset:
                    chosen.add(creator)
    return {key: dataset[key] for key in sorted(chosen)}
