"""Read a dump one instance at a time, so that ingest never holds the whole parsed document.

A dump is a JSON array of instance objects. Parsing it whole costs about nine
times its size in Python objects; parsing instance by instance costs one
instance. The boundaries are found without a JSON scanner in Python: a
candidate end is a "}" followed by "," + "{" or by the final "]", and the
candidate is right exactly when orjson parses the slice from the instance's
opening "{" to it as one object (a balanced object that starts there ends in
one place only). A wrong candidate tells where to look next: orjson reports
either the true end ("unexpected content after document") or that the object
goes on ("unexpected end of data").

An instance whose compact form differs from its text is parsed again by the
careful parser (json_model.load_exact) when it holds numbers orjson would not
write back verbatim, may name a key twice in one object (orjson keeps the last
value silently), or cannot be written by orjson at all.

Anything else — a body that is not an array of objects, invalid JSON, text
that orjson refuses — raises NotStreamable, and the caller parses the body whole
with json_model.load_json, which reports errors exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import orjson

from service.dicom import json_model

_START_RE = re.compile(rb"[ \t\n\r]*\[[ \t\n\r]*(?=\{)")
_EMPTY_RE = re.compile(rb"[ \t\n\r]*\[[ \t\n\r]*\][ \t\n\r]*\Z")
# After an instance: the next one, or the end of the array and of the body.
_NEXT_RE = re.compile(rb"[ \t\n\r]*,[ \t\n\r]*(?=\{)")
_LAST_RE = re.compile(rb"[ \t\n\r]*\][ \t\n\r]*\Z")
_CANDIDATE_RE = re.compile(rb"\}[ \t\n\r]*(?:,[ \t\n\r]*\{|\][ \t\n\r]*\Z)")
_AFTER = "unexpected content after document"
_MORE = "unexpected end of data"
MAX_TRIES = 64  # per instance; a candidate scan that fails this often is not worth it


class NotStreamable(Exception):
    """The body is not a plain JSON array of objects that orjson reads; parse it whole."""


def iter_instances(body: bytes) -> Iterator[tuple[dict, bytes | memoryview | None]]:
    """Yield each instance of a dump with its compact JSON when that is at hand, else None
    (serialize it yourself). When the body already holds the instance in compact form with
    every number exact, that compact JSON is a view of the body: no copy.

    Numbers that a float round trip would change are parsed exactly (see json_model).
    Raises NotStreamable before yielding anything wrong.
    """
    if _EMPTY_RE.match(body):
        return
    start_match = _START_RE.match(body)
    if start_match is None:
        raise NotStreamable("not an array of objects")
    view = memoryview(body)
    start = start_match.end()
    size = len(body)
    compact_separators = False  # whether instances are separated by a bare ","
    while True:
        instance, end = _parse_object(body, view, start, compact_separators)
        raw = view[start:end]
        try:
            compact = orjson.dumps(instance)
        except TypeError:  # a lone surrogate, or deep nesting: the careful path says where
            yield json_model.load_exact(raw), None
        else:
            # Compared in place: comparing with the memoryview goes byte by byte.
            if len(compact) == end - start and body.startswith(compact, start):
                del compact
                yield instance, raw
            elif json_model.has_inexact_number(body, start, end) \
                    or json_model.may_repeat_keys(body, compact, start, end):
                # The careful parser keeps exact numbers and marks repeated keys.
                yield json_model.load_exact(raw), None
            else:
                yield instance, compact
        following = _NEXT_RE.match(body, end)
        if following is not None:
            start = following.end()
            compact_separators = start == end + 1
        elif _LAST_RE.match(body, end):
            return
        else:
            raise NotStreamable("unexpected text between instances")
        if start >= size:
            raise NotStreamable("truncated")


def _parse_object(body: bytes, view: memoryview, start: int,
                  compact_separators: bool) -> tuple[dict, int]:
    """The object that starts at `start` (a "{") and the offset just past it."""
    end = _candidate_end(body, start, compact_separators)
    for _ in range(MAX_TRIES):
        try:
            instance = orjson.loads(view[start:end])
        except orjson.JSONDecodeError as exc:
            if exc.msg == _AFTER and 0 < exc.pos:
                end = start + _byte_offset(view[start:end], exc.pos)
                continue  # the object ended before: parse exactly it
            if exc.msg == _MORE and end < len(body):
                # The object goes on: look further, doubling the span so that a long
                # instance with many sequence items costs a few parses, not one per item.
                end = _candidate_end(body, start + 2 * (end - start), compact_separators)
                continue
            raise NotStreamable(exc.msg) from None
        if not isinstance(instance, dict):
            raise NotStreamable("not an object")
        return instance, end
    raise NotStreamable("instance boundaries not found")


def _candidate_end(body: bytes, position: int, compact_separators: bool) -> int:
    """Just past the first "}" at or after `position` that may end an instance: one followed
    by "," and "{", or by the final "]". Between compact instances that is a byte search
    for "},{", much faster than the pattern, which stops at every "}"; the last instance
    and other bodies take the pattern. A wrong candidate costs a parse (_parse_object)."""
    if compact_separators:
        found = body.find(b"},{", position)
        if found != -1:
            return found + 1
    candidate = _CANDIDATE_RE.search(body, position)
    return candidate.start() + 1 if candidate else len(body)


def _byte_offset(text: memoryview, position: int) -> int:
    """orjson reports positions in characters; the offset of that character in bytes."""
    data = text.tobytes()
    if data.isascii():
        return position
    return len(data.decode("utf-8")[:position].encode("utf-8"))
