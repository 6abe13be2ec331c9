"""Validate and normalize an instance in one pass, for the common case of a clean instance.

The careful path — json_model.Validator, then normalize.normalize_instance —
locates every problem by JSON path and canonicalizes what it can. This pass
does the same checks and conversions with per-tag caches and one handler per
VR, builds no path strings, and gives up (returns None) at the first thing the
careful path would report as an error or a warning, or would rewrite: the
caller then runs the careful path on that instance. So its result, when there
is one, equals the careful path's, and the careful path's rules stay the
contract (tests compare the two).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress, repeat
from operator import ne
from typing import Any

import orjson

from service.dicom import dictionary, value_formats
from service.dicom.json_model import (
    _DS_RE,
    _HEX8_RE,
    _IS_RE,
    ALL_VRS,
    INT_RANGES,
    MAX_LENGTHS,
    PN_GROUP_MAX_LENGTH,
    PN_GROUPS,
    SPECIAL_FLOATS,
    ExactFloat,
)
from service.dicom.normalize import PRIVATE_KEY, _key_info
from service.dicom.uids import CONFORMANT_RE
from service.dicom.uids import MAX_LENGTH as UID_MAX_LENGTH

MAX_CACHED = 65536  # bound on the per-tag caches (hostile dumps may invent many tags)
# Bound on the key lists remembered per dump (normalize_valid's memo): each holds one
# instance's attributes as text, about 1 MB for a CT slice (orjson's spare capacity).
MAX_TEMPLATES = 4
_LEVELS = {"study": 1, "series": 2, "instance": 0}
_DATE_TIME = {"DA": value_formats.date_iso, "TM": value_formats.time_iso,
              "DT": value_formats.datetime_iso}
_PLAIN_STRING_VRS = frozenset({"AE", "AS", "CS", "LO", "LT", "SH", "ST", "UC", "UR", "UT"})
_DS_LONGEST, _IS_LONGEST = MAX_LENGTHS["DS"], MAX_LENGTHS["IS"]  # of their string forms


class _Bail(Exception):
    """The careful path must look at this instance."""


_BAIL = _Bail()


def _exact_number(value: Any) -> Any:
    if value.__class__ is ExactFloat:
        return orjson.Fragment(value.text)
    raise TypeError(type(value).__name__)


# orjson.dumps's positional arguments for an attribute's compact JSON: exact numbers
# as received, and subclasses not written (OPT_PASSTHROUGH_SUBCLASS), so that a
# json_model.DuplicateKeyObject cannot compare equal to the plain object it would be
# written as. Positional: map() passes them without a keyword dict per call.
_TEXT_ARGUMENTS = (_exact_number, orjson.OPT_PASSTHROUGH_SUBCLASS)


def _attribute_text(attribute: Any) -> bytes:
    return orjson.dumps(attribute, *_TEXT_ARGUMENTS)


# key → (private, name or creator key, scalar or is-creator, level)
_KEYS: dict[str, tuple[bool, str, bool, int]] = {}
# (key, creator) → (name, scalar) of a private data element
_PRIVATE_NAMES: dict[tuple[str, str | None], tuple[str | None, bool]] = {}


def normalize_valid(dataset: dict, max_depth: int,
                    memo: dict | None = None) -> tuple[dict, dict, dict] | None:
    """(attributes, study, series) as normalize.normalize_instance gives them for a
    dataset that json_model.Validator accepts without findings; None otherwise.

    `memo`: a dict the caller keeps across the instances of one dump (same max_depth).
    The instances of a series repeat most attributes, under the same keys in the same
    order: the memo keeps, per such list of keys, the last instance's attributes as
    compact JSON (compared as orjson's text, so that 1, 1.0 and true differ as they
    must) with their results. The next instance with those keys is compared to it
    attribute by attribute in C, and only the attributes that differ are checked and
    converted; the others' results are reused.
    """
    if dataset.__class__ is not dict:
        return None  # e.g. a json_model.DuplicateKeyObject
    try:
        if memo is None:
            return _dataset(dataset, 0, max_depth, True)
        return _remembered(dataset, max_depth, memo)
    except _Bail:
        return None


@dataclass(slots=True)
class _Template:
    """The last instance seen with one list of keys: what it takes to reuse its results."""

    texts: list[object]  # each attribute as compact JSON (_attribute_text), or unique
    entries: list[tuple[bool, str, bool, int]]  # each attribute's _KEYS entry
    positions: list[int]  # each private attribute's index in the "private" list
    creators: dict[str, str]  # private creator key -> creator, as the whole instance names
    views: tuple[dict, dict, dict]  # (attributes, study, series)


def _remembered(dataset: dict, max_depth: int, memo: dict) -> tuple[dict, dict, dict]:
    keys = tuple(dataset)
    texts: list[object]
    try:
        texts = list(map(orjson.dumps, dataset.values(), *map(repeat, _TEXT_ARGUMENTS)))
    except TypeError:  # a repeated key (DuplicateKeyObject), a lone surrogate, deep nesting
        texts = [_text_or_unique(attribute) for attribute in dataset.values()]
    template: _Template | None = memo.get(keys)
    if template is not None:
        views = _from_template(dataset, keys, texts, template, max_depth)
        if views is not None:
            template.texts = texts
            template.views = views
            return views
    positions: list[int] = []
    creators: dict[str, str] = {}
    views = _dataset(dataset, 0, max_depth, True, positions, creators)
    if keys not in memo and len(memo) >= MAX_TEMPLATES:
        del memo[next(iter(memo))]  # the oldest: dumps rarely alternate many layouts
    memo[keys] = _Template(texts, [_KEYS.get(key) or _classify(key) for key in keys],
                           positions, creators, views)
    return views


def _text_or_unique(attribute: Any) -> bytes | object:
    """_attribute_text, or a new object (equal to nothing) when orjson cannot write it."""
    try:
        return _attribute_text(attribute)
    except TypeError:
        return object()


def _from_template(dataset: dict, keys: tuple[str, ...], texts: list[object],
                   template: _Template, max_depth: int) -> tuple[dict, dict, dict] | None:
    """The three views of `dataset` from those of `template` (same keys), converting only
    the attributes whose text differs; None when that is not worth it or not possible
    (a private creator changed: the names of its block's elements change with it)."""
    changed = list(compress(range(len(texts)), map(ne, texts, template.texts)))
    if len(changed) * 2 > len(texts):
        return None
    attributes, study, series = template.views
    attributes = attributes.copy()
    # The study and series views are copied only when one of their attributes changed:
    # otherwise they are the template's, which lets records reuse their JSON.
    study_copied = series_copied = False
    private = attributes.get(PRIVATE_KEY)
    if private is not None:
        private = attributes[PRIVATE_KEY] = private.copy()
    values = list(dataset.values())
    for index in changed:
        entry = template.entries[index]
        if entry[0] and entry[2]:
            return None
        key = keys[index]
        value, converted, vr = _value(values[index], 0, max_depth)
        if entry[0]:
            creator = template.creators.get(entry[1])
            name, scalar = _private_name(key, creator)
            if scalar and converted and len(converted) == 1 and vr != "SQ":
                value = converted[0]
            private[template.positions[index]] = {  # type: ignore[index]
                "tag": key, "creator": creator, "name": name, "vr": vr, "value": value}
        else:
            if converted and entry[2] and len(converted) == 1 and vr != "SQ":
                value = converted[0]
            attributes[entry[1]] = value
            if entry[3] == 1:
                if not study_copied:
                    study, study_copied = study.copy(), True
                study[entry[1]] = value
            elif entry[3] == 2:
                if not series_copied:
                    series, series_copied = series.copy(), True
                series[entry[1]] = value
    return attributes, study, series


def _classify(key: str) -> tuple[bool, str, bool, int]:
    if not (isinstance(key, str) and _HEX8_RE.match(key)) or key != key.upper() \
            or key.endswith("0000"):
        raise _BAIL  # an error, or a warning (lower case, group length)
    tag = int(key, 16)
    if dictionary.is_private(tag):
        entry = (True, f"{dictionary.private_creator_tag(tag):08X}",
                 dictionary.is_private_creator(tag), 0)
    else:
        info = _key_info(key)
        entry = (False, info.name, info.scalar, _LEVELS[info.level])
    if len(_KEYS) < MAX_CACHED:
        _KEYS[key] = entry
    return entry


def _private_name(key: str, creator: str | None) -> tuple[str | None, bool]:
    found = _PRIVATE_NAMES.get((key, creator))
    if found is None:
        info = dictionary.lookup_private(int(key, 16), creator) if creator else None
        found = (info.name if info and info.name != "Unknown" else None,
                 bool(info and info.vm == "1"))
        if len(_PRIVATE_NAMES) < MAX_CACHED:
            _PRIVATE_NAMES[(key, creator)] = found
    return found


def _value(attribute: Any, depth: int, max_depth: int) -> tuple[Any, list | None, Any]:
    """(value, converted Value items or None, vr) of one attribute, checked."""
    if attribute.__class__ is not dict:
        raise _BAIL
    if len(attribute) == 2 and "Value" in attribute:
        try:
            vr = attribute["vr"]
            handler = _HANDLERS[vr]
        except (KeyError, TypeError):
            raise _BAIL from None  # no or unknown VR, or bytes given as Value
        items = attribute["Value"]
        if items.__class__ is not list:
            raise _BAIL
        converted = handler(items, depth, max_depth)
        return converted or None, converted, vr
    vr = attribute.get("vr")
    return _no_value(attribute, vr), None, vr


def _dataset(dataset: dict, depth: int, max_depth: int, top: bool,
             positions: list[int] | None = None, creators: dict[str, str] | None = None
             ) -> Any:
    """The normalized form of one dataset (with the study and series views when `top`).
    `positions` receives each private attribute's index in the "private" list and
    `creators` the private creators, for a _Template."""
    result: dict[str, Any] = {}
    study: dict[str, Any] = {}
    series: dict[str, Any] = {}
    private: list | None = None
    pending: list | None = None
    if creators is None:
        creators = {}
    keys = _KEYS
    for key, attribute in dataset.items():
        entry = keys.get(key) or _classify(key)
        value, converted, vr = _value(attribute, depth, max_depth)
        if entry[0]:  # private
            if private is None:
                private = []
            if positions is not None:
                positions.append(len(private))
            if entry[2]:  # a private creator
                items = attribute["Value"] if converted else None
                if converted and items[0].__class__ is str:  # type: ignore[index]
                    creators[key] = items[0].strip()  # type: ignore[index]
                if converted and len(converted) == 1 and vr != "SQ":
                    value = converted[0]
                value = {"tag": key, "creator": None, "name": "Private Creator", "vr": vr,
                         "value": value}
            else:
                creator = creators.get(entry[1])
                if creator is None:  # named at the end, in case its creator comes later
                    if pending is None:
                        pending = []
                    pending.append((len(private), key, vr, value, entry[1]))
                    private.append(None)
                    continue
                name, scalar = _private_name(key, creator)
                if scalar and converted and len(converted) == 1 and vr != "SQ":
                    value = converted[0]
                value = {"tag": key, "creator": creator, "name": name, "vr": vr,
                         "value": value}
            private.append(value)
        else:
            if positions is not None:
                positions.append(-1)
            if converted and entry[2] and len(converted) == 1 and vr != "SQ":
                value = converted[0]
            result[entry[1]] = value
            if top and entry[3]:
                (study if entry[3] == 1 else series)[entry[1]] = value
    if private:
        if pending:
            for position, key, vr, value, creator_key in pending:
                creator = creators.get(creator_key)
                name, scalar = _private_name(key, creator)
                if scalar and value.__class__ is list and len(value) == 1 and vr != "SQ":
                    value = value[0]
                private[position] = {"tag": key, "creator": creator, "name": name, "vr": vr,
                                     "value": value}
        result[PRIVATE_KEY] = private
    return (result, study, series) if top else result


def _no_value(attribute: dict, vr: Any) -> Any:
    """An attribute without Value: empty, or bytes by reference or inline."""
    if vr.__class__ is not str or vr not in ALL_VRS or "Value" in attribute:
        raise _BAIL
    size = len(attribute)
    if size == 1:
        return None
    if size == 2:
        uri = attribute.get("BulkDataURI")
        if uri.__class__ is str:
            return {"BulkDataURI": uri}
        inline = attribute.get("InlineBinary")
        if inline.__class__ is str:
            return {"InlineBinary": inline}
    raise _BAIL


# One handler per VR: check the Value items as the Validator does and return them
# converted as normalize.convert_values does (same length), or raise _BAIL.
Handler = Callable[[list, int, int], list]


def _strings(items: list, _depth: int, _max_depth: int) -> list:
    for item in items:
        if item.__class__ is not str and item is not None:
            raise _BAIL
    return items


def _bounded_strings(longest: int) -> Handler:
    """Strings of a VR with a maximum length (a longer one is kept with a warning)."""
    def handler(items: list, _depth: int, _max_depth: int) -> list:
        for item in items:
            if item.__class__ is not str:
                if item is not None:
                    raise _BAIL
            elif len(item) > longest:
                raise _BAIL
        return items
    return handler


def _uids(items: list, _depth: int, _max_depth: int) -> list:
    for item in items:
        if item is not None and (item.__class__ is not str or len(item) > UID_MAX_LENGTH
                                 or not CONFORMANT_RE.match(item)):
            raise _BAIL
    return items


def _date_time(vr: str, convert: Callable[[str], str]) -> Handler:
    check = _bounded_strings(MAX_LENGTHS[vr])

    def handler(items: list, _depth: int, _max_depth: int) -> list:
        check(items, 0, 0)
        return [convert(item) if item else item for item in items]
    return handler


def _person_names(items: list, _depth: int, _max_depth: int) -> list:
    for item in items:
        if item is None:
            continue
        if item.__class__ is not dict:
            raise _BAIL  # a string is a warning, anything else an error
        for group, text in item.items():
            if group not in PN_GROUPS or text.__class__ is not str \
                    or len(text) > PN_GROUP_MAX_LENGTH:
                raise _BAIL
    return [value_formats.person_name(item) for item in items]


def _decimals(items: list, _depth: int, _max_depth: int) -> list:
    for item in items:
        kind = item.__class__
        if kind is not float and kind is not int:
            break
    else:
        return items  # JSON numbers: the common case, already their own normal form
    converted = []
    for item in items:
        kind = item.__class__
        if kind is float or kind is int:
            converted.append(item)
        elif kind is ExactFloat:
            number = float(item)
            if not math.isfinite(number):
                raise _BAIL  # kept as received, with a warning
            converted.append(number)
        elif kind is str:
            if item.strip() and not _DS_RE.match(item) or len(item) > _DS_LONGEST:
                raise _BAIL  # kept as text, with a warning
            number = value_formats.decimal_number(item)
            if number.__class__ is str:
                raise _BAIL  # beyond a float's range: kept as text, with a warning
            converted.append(number)
        elif item is None:
            converted.append(None)
        else:
            raise _BAIL
    return converted


def _integer(item: Any, strings: bool | None) -> Any:
    """An IS/US/… item as an int (None for None); raises _BAIL where the Validator objects."""
    kind = item.__class__
    if kind is int:
        return item
    if kind is float or kind is ExactFloat:
        if item.is_integer():
            return int(item)
    elif kind is str:
        if strings and _IS_RE.match(item) and len(item) <= _IS_LONGEST:
            return int(item)
        if strings is None and not item.strip():
            return None  # IS: an empty string is an empty value
    elif item is None:
        return None
    raise _BAIL


def _integer_strings(items: list, _depth: int, _max_depth: int) -> list:
    return [_integer(item, None) if item.__class__ is str and not item.strip()
            else _integer(item, True) for item in items]


def _ranged(vr: str) -> Handler:
    low, high = INT_RANGES[vr]
    strings = vr in ("UV", "SV")  # PS3.18 F.2.3.1: 64-bit values may be strings

    def handler(items: list, _depth: int, _max_depth: int) -> list:
        for item in items:
            if item.__class__ is not int or not low <= item <= high:
                break
        else:
            return items  # JSON integers in range: the common case
        converted = []
        for item in items:
            number = item if item.__class__ is int else _integer(item, strings)
            if number is not None and not low <= number <= high:
                raise _BAIL
            converted.append(number)
        return converted
    return handler


def _floats(items: list, _depth: int, _max_depth: int) -> list:
    for item in items:
        kind = item.__class__
        if not (kind is float or kind is int or item is None
                or (kind is ExactFloat and math.isfinite(item))
                or (kind is str and item in SPECIAL_FLOATS)):
            raise _BAIL
    return items


def _tags(items: list, _depth: int, _max_depth: int) -> list:
    for item in items:
        if item.__class__ is not str or not _HEX8_RE.match(item):
            raise _BAIL
    return [item.upper() for item in items]


def _sequence(items: list, depth: int, max_depth: int) -> list:
    if depth >= max_depth:
        raise _BAIL
    converted = []
    for item in items:
        if item.__class__ is not dict:
            raise _BAIL
        converted.append(_dataset(item, depth + 1, max_depth, False))
    return converted


_HANDLERS: dict[str, Handler] = {
    **{vr: _bounded_strings(MAX_LENGTHS[vr]) if vr in MAX_LENGTHS else _strings
       for vr in _PLAIN_STRING_VRS},
    **{vr: _date_time(vr, convert) for vr, convert in _DATE_TIME.items()},
    **{vr: _ranged(vr) for vr in INT_RANGES},
    "UI": _uids, "PN": _person_names, "DS": _decimals, "IS": _integer_strings,
    "FL": _floats, "FD": _floats, "AT": _tags, "SQ": _sequence,
}
