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
_LEVELS = {"study": 1, "series": 2, "instance": 0}
_DATE_TIME = {"DA": value_formats.date_iso, "TM": value_formats.time_iso,
              "DT": value_formats.datetime_iso}
_PLAIN_STRING_VRS = frozenset({"AE", "AS", "CS", "LO", "LT", "SH", "ST", "UC", "UR", "UT"})
_DS_LONGEST, _IS_LONGEST = MAX_LENGTHS["DS"], MAX_LENGTHS["IS"]  # of their string forms


class _Bail(Exception):
    """The careful path must look at this instance."""


_BAIL = _Bail()
# key → (private, name or creator key, scalar or is-creator, level)
_KEYS: dict[str, tuple[bool, str, bool, int]] = {}
# (key, creator) → (name, scalar) of a private data element
_PRIVATE_NAMES: dict[tuple[str, str | None], tuple[str | None, bool]] = {}


def normalize_valid(dataset: dict, max_depth: int,
                    memo: dict | None = None) -> tuple[dict, dict, dict] | None:
    """(attributes, study, series) as normalize.normalize_instance gives them for a
    dataset that json_model.Validator accepts without findings; None otherwise.

    `memo`: a dict the caller keeps across the instances of one dump (same max_depth).
    The instances of a series repeat most attributes; the memo keeps, per tag, the last
    attribute seen and its result, reused when the next one is the same JSON (compared
    as orjson's text, so that 1, 1.0 and true differ as they must).
    """
    if dataset.__class__ is not dict:
        return None  # e.g. a json_model.DuplicateKeyObject
    try:
        return _dataset(dataset, 0, max_depth, True, memo)
    except _Bail:
        return None


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


def _dataset(dataset: dict, depth: int, max_depth: int, top: bool,
             memo: dict | None = None) -> Any:
    result: dict[str, Any] = {}
    study: dict[str, Any] = {}
    series: dict[str, Any] = {}
    private: list | None = None
    pending: list | None = None
    creators: dict[str, str] = {}
    keys = _KEYS
    handlers = _HANDLERS
    dumps = orjson.dumps
    for key, attribute in dataset.items():
        text = None
        if memo is not None:
            try:
                text = dumps(attribute)
            except TypeError:
                pass  # exactly parsed numbers: not worth the detour
            slot = memo.get(key)
            if slot is not None and slot[0] == text:
                entry = slot[3]
                if not entry[0]:
                    value = slot[1]
                    result[entry[1]] = value
                    if top and entry[3]:
                        (study if entry[3] == 1 else series)[entry[1]] = value
                    continue
                if private is None:
                    private = []
                if entry[2]:  # a private creator: its name, and its entry
                    if slot[2] is not None:
                        creators[key] = slot[2]
                    private.append(slot[1])
                    continue
                if creators.get(entry[1]) == slot[2]:
                    private.append(slot[1])
                    continue
        entry = keys.get(key) or _classify(key)
        if attribute.__class__ is not dict:
            raise _BAIL
        if len(attribute) == 2 and "Value" in attribute:
            try:
                vr = attribute["vr"]
                handler = handlers[vr]
            except (KeyError, TypeError):
                raise _BAIL from None  # no or unknown VR, or bytes given as Value
            items = attribute["Value"]
            if items.__class__ is not list:
                raise _BAIL
            converted = handler(items, depth, max_depth)
            value = converted or None
        else:
            vr = attribute.get("vr")
            value = _no_value(attribute, vr)
            converted = None
        creator = None
        if entry[0]:  # private
            if private is None:
                private = []
            if entry[2]:  # a private creator
                if converted and items[0].__class__ is str:
                    creator = creators[key] = items[0].strip()
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
            if converted and entry[2] and len(converted) == 1 and vr != "SQ":
                value = converted[0]
            result[entry[1]] = value
            if top and entry[3]:
                (study if entry[3] == 1 else series)[entry[1]] = value
        if text is not None and memo is not None and (len(memo) < MAX_CACHED or key in memo):
            memo[key] = (text, value, creator, entry)
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
