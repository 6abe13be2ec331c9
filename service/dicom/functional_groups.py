"""Functional groups (PS3.3 C.7.6.16): the one place that finds a frame's attribute.

An enhanced (multi-frame) instance keeps per-frame attributes in macros: the frame's item
of the Per-Frame Functional Groups Sequence first, else the Shared Functional Groups
Sequence; a single-frame instance keeps them at top level. Geometry, rescale, window and
the pixel headers all ask in that order, through these functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

PER_FRAME = "PerFrameFunctionalGroupsSequence"
SHARED = "SharedFunctionalGroupsSequence"


def first_item(attrs: Mapping[str, Any] | None, keyword: str) -> Mapping[str, Any] | None:
    """The first item of sequence `keyword` in normalized `attrs`, or None."""
    items = attrs.get(keyword) if attrs else None
    if isinstance(items, list) and items and isinstance(items[0], Mapping):
        return items[0]
    return None


def per_frame_items(attrs: Mapping[str, Any]) -> list[Any] | None:
    """The Per-Frame Functional Groups Sequence's items, or None when it has none."""
    items = attrs.get(PER_FRAME)
    return items if isinstance(items, list) and items else None


def frame_item(attrs: Mapping[str, Any], frame: int) -> Mapping[str, Any] | None:
    """The per-frame item of 1-based `frame`, or None when the instance has none for it."""
    items = per_frame_items(attrs)
    if items is None or not 1 <= frame <= len(items) or not isinstance(items[frame - 1], Mapping):
        return None
    return items[frame - 1]


def macro_items(attrs: Mapping[str, Any], frame_group: Mapping[str, Any] | None,
                macro: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    """The items of `macro` that apply to a frame, in precedence order, with their source:
    the frame's own ("per-frame", from `frame_group`), then the shared one ("shared")."""
    own = first_item(frame_group, macro)
    if own is not None:
        yield own, "per-frame"
    shared = first_item(first_item(attrs, SHARED), macro)
    if shared is not None:
        yield shared, "shared"


def functional_value(attrs: Mapping[str, Any], frame_group: Mapping[str, Any] | None,
                     macro: str, keyword: str) -> Any:
    """`keyword` of `macro` for the frame whose per-frame item is `frame_group`: per-frame,
    then shared, then the top-level attribute; None when none holds it."""
    for item, _source in macro_items(attrs, frame_group, macro):
        if item.get(keyword) is not None:
            return item[keyword]
    return attrs.get(keyword)
