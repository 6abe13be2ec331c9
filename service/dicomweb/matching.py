"""Does a DICOM JSON dataset match a QIDO query? PS3.4 C.2.2.2 on the JSON model.

- Single value matching: exact, after removing the padding spaces DICOM allows;
  person names compare case-insensitively and ignore trailing empty components
  ("DOE^JANE^^" is "doe^jane").
- Wildcards `*` and `?` (any run, one character): case-sensitive except PN.
- UID lists, repeated keys, CS and numeric comma lists: any alternative.
- Ranges of DA, TM, DT (temporal_ranges.py), and combined date+time ranges.
- Sequence matching: a path matches when any item of the sequence matches.
- emptyvaluematching=true: an absent or empty attribute matches any key too.
- multiplevaluematching=true: a multi-valued attribute matches when any one of its
  values does; otherwise its values joined with "\\" must match as a whole.
  ModalitiesInStudy always matches on any value (its definition in PS3.4).
- fuzzymatching=true on PN (our documented rule): the key and the name are folded
  (Unicode NFKD without combining marks, case-folded) and split into tokens at
  '^', '=', ',', and spaces; every key token must be a prefix of some name token
  in any component group. "mull ann" finds "MÜLLER^ANNA". A key with wildcards is
  matched as a wildcard over the folded name instead.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from service.dicom import tags
from service.dicomweb import temporal_ranges
from service.dicomweb.query import Filter, QidoQuery, Term

_TOKEN_SPLIT = re.compile(r"[\^=,\s]+")


@dataclass(frozen=True, slots=True)
class Options:
    fuzzy: bool = False
    empty: bool = False
    multiple: bool = False

    @classmethod
    def of(cls, query: QidoQuery) -> Options:
        return cls(query.fuzzy, query.empty, query.multiple)


def matches_all(dataset: dict[str, Any], filters: list[Filter], options: Options) -> bool:
    return all(matches(dataset, flt, options) for flt in filters)


def matches(dataset: dict[str, Any], flt: Filter, options: Options) -> bool:
    """True when `dataset` (DICOM JSON, top level) satisfies one matching key."""
    if flt.universal:
        return True
    if flt.time_key is not None:
        return _matches_date_time(dataset, flt, options)
    found = False
    for attribute in leaf_attributes(dataset, flt.path):
        items = attribute.get("Value") if isinstance(attribute, dict) else None
        if not items:
            continue
        found = True
        if _attribute_matches(items, flt, options):
            return True
    return options.empty and not found


def leaf_attributes(dataset: dict[str, Any], path: tuple[str, ...]) -> list[dict]:
    """The attributes at `path`, through every item of the sequences on the way."""
    attribute = dataset.get(path[0])
    if attribute is None:
        return []
    if len(path) == 1:
        return [attribute]
    found: list[dict] = []
    for item in attribute.get("Value") or ():
        if isinstance(item, dict):
            found.extend(leaf_attributes(item, path[1:]))
    return found


def _attribute_matches(items: list, flt: Filter, options: Options) -> bool:
    any_value = options.multiple or flt.key == tags.MODALITIES_IN_STUDY
    if len(items) > 1 and not any_value:
        if flt.vr == "PN" or any(term.kind in ("range", "number") for term in flt.terms):
            return False  # a range or a number cannot match several values as a whole
        joined = "\\".join(_text(item) for item in items)
        return any(_string_matches(joined, term, flt.vr) for term in flt.terms)
    return any(_value_matches(item, term, flt.vr, options.fuzzy)
               for item in items for term in flt.terms)


def _value_matches(item: Any, term: Term, vr: str, fuzzy: bool) -> bool:
    if term.kind == "number":
        try:
            return float(item) == term.number
        except (TypeError, ValueError):
            return False
    if term.kind == "range":
        stored = temporal_ranges.comparable(vr, _text(item))
        return stored is not None and (term.low is None or stored >= term.low) \
            and (term.high is None or stored <= term.high)
    if vr == "PN":
        return any(_name_matches(group, term, fuzzy) for group in _name_groups(item))
    return _string_matches(_text(item), term, vr)


def _string_matches(stored: str, term: Term, vr: str) -> bool:
    stored = stored.strip(" \x00")
    if term.kind == "wildcard":
        return wildcard_regex(term.text, False).fullmatch(stored) is not None
    return stored == term.text


def _name_groups(item: Any) -> list[str]:
    if isinstance(item, dict):
        return [item[group] for group in ("Alphabetic", "Ideographic", "Phonetic")
                if isinstance(item.get(group), str)]
    return [item] if isinstance(item, str) else []


def _trim_name(name: str) -> str:
    return "^".join(part.strip() for part in name.strip().split("^")).rstrip("^")


def _name_matches(name: str, term: Term, fuzzy: bool) -> bool:
    if fuzzy:
        folded = fold(name)
        if term.kind == "wildcard":
            return wildcard_regex(fold(term.text), True).fullmatch(_trim_name(folded)) \
                is not None
        tokens = [token for token in _TOKEN_SPLIT.split(folded) if token]
        wanted = [token for token in _TOKEN_SPLIT.split(fold(term.text)) if token]
        return all(any(token.startswith(key) for token in tokens) for key in wanted)
    if term.kind == "wildcard":
        return wildcard_regex(term.text, True).fullmatch(_trim_name(name)) is not None
    return _trim_name(name).casefold() == _trim_name(term.text).casefold()


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD without combining marks, case-folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=1024)
def wildcard_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """DICOM wildcards (* any run, ? one character) as an anchored regular expression."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _matches_date_time(dataset: dict[str, Any], flt: Filter, options: Options) -> bool:
    date = _first(dataset.get(flt.key))
    if date is None:
        return options.empty
    day = temporal_ranges.comparable("DA", _text(date))
    time = _first(dataset.get(flt.time_key or ""))
    clock = temporal_ranges.comparable("TM", _text(time)) if time is not None else "000000.000000"
    if day is None or clock is None:
        return False
    stamp = day + clock
    term = flt.terms[0]
    return (term.low is None or stamp >= term.low) and (term.high is None or stamp <= term.high)


def _first(attribute: Any) -> Any:
    if not isinstance(attribute, dict):
        return None
    items = attribute.get("Value")
    return items[0] if items else None


def _text(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("Alphabetic", ""))
    if isinstance(item, float) and item.is_integer():
        return str(int(item))
    return str(item)
