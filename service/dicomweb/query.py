"""QIDO-RS query parameters (PS3.18 §8.3.4) → a validated QidoQuery; errors name the key.

- `{attributeID}={value}`: attributeID is a keyword or a tag ("00100020"), or a
  sequence path ("RequestAttributesSequence.ScheduledProcedureStepID",
  "0040A370.00400009"). A key repeated is an OR of its values (dcm4chee's reading,
  not Orthanc's last-wins); UI values are also comma lists, and so are CS and
  numeric values (neither can hold a comma).
- An empty value or a bare `*` is universal matching: it only asks for the
  attribute in the answer.
- `includefield` (comma lists and repeated), `fuzzymatching`, `emptyvaluematching`,
  `multiplevaluematching` (true/false), `limit`, `offset`.
- StudyDate+StudyTime (and the other date/time pairs) given both as ranges form
  one combined datetime range (PS3.4 C.2.2.2.5.1).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from service.dicom import dictionary, tags
from service.dicomweb import levels, temporal_ranges

PARAMETERS = frozenset({"includefield", "fuzzymatching", "emptyvaluematching",
                        "multiplevaluematching", "limit", "offset"})
NUMERIC_VRS = frozenset({"IS", "DS", "US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"})
INTEGER_VRS = frozenset({"IS", "US", "SS", "UL", "SL", "UV", "SV"})
# What an integer matching value, limit or offset may be: what both SQL back ends bind
# (SQLite INTEGER and PostgreSQL bigint are signed 64-bit). Beyond it is a 400, not an
# OverflowError in the driver.
INTEGER_LOW, INTEGER_HIGH = -(2**63), 2**63 - 1
# limit and offset: the bound /v1 uses (service.api.params.page).
PAGE_HIGH = 2**31 - 1
STRING_VRS = frozenset({"AE", "AS", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT", "UN"})
# Date and time attributes that combine into one datetime range (PS3.4 C.2.2.2.5.1).
DATE_TIME_PAIRS = (
    (tags.STUDY_DATE, tags.STUDY_TIME), (tags.SERIES_DATE, tags.SERIES_TIME),
    (tags.PERFORMED_PROCEDURE_STEP_START_DATE, tags.PERFORMED_PROCEDURE_STEP_START_TIME),
)
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_INTEGER_TEXT = re.compile(r"^[+-]?[0-9]+$")


class QueryError(ValueError):
    """A query parameter is unknown or malformed; `parameter` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True, slots=True)
class Term:
    """One alternative of a matching key: exact text, a wildcard pattern or a range."""

    kind: str  # "exact" | "wildcard" | "range" | "number"
    text: str = ""  # for a range: "range" when written A-B (not one partial value)
    low: str | None = None
    high: str | None = None
    number: float = 0.0


@dataclass(frozen=True, slots=True)
class Filter:
    """A matching key: the tag path, its VR and its alternatives (none: universal)."""

    path: tuple[str, ...]
    vr: str
    terms: tuple[Term, ...] = ()
    time_key: str | None = None  # combined date+time range: the time attribute

    @property
    def key(self) -> str:
        return self.path[0]

    @property
    def universal(self) -> bool:
        return not self.terms


@dataclass(slots=True)
class QidoQuery:
    level: str
    filters: list[Filter] = field(default_factory=list)
    include_all: bool = False
    include: set[str] = field(default_factory=set)  # top-level tag keys
    fuzzy: bool = False
    empty: bool = False  # emptyvaluematching
    multiple: bool = False  # multiplevaluematching
    limit: int = 100
    offset: int = 0
    capped: bool = False  # the asked limit exceeded the maximum

    @property
    def matching(self) -> list[Filter]:
        """The filters that constrain (universal ones only ask for the attribute)."""
        return [f for f in self.filters if not f.universal]

    def answer_keys(self) -> set[str]:
        """Top-level keys the answer carries besides the required ones."""
        return {f.key for f in self.filters} | {f.time_key for f in self.filters
                                                 if f.time_key} | self.include


def parse_path(text: str) -> tuple[str, ...]:
    """"A.B.C" of keywords or tags → ("GGGGEEEE", …); QueryError naming `text`."""
    keys = []
    for part in text.split("."):
        try:
            keys.append(dictionary.tag_key(dictionary.parse_tag(part)))
        except ValueError:
            raise QueryError(text, f"{text!r} is not a DICOM keyword, tag or sequence path "
                                   f"of them") from None
    for key in keys[:-1]:
        if levels.vr_of(key) not in ("SQ", "UN"):
            raise QueryError(text, f"{text!r}: {key} is not a sequence")
    return tuple(keys)


def _boolean(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise QueryError(name, f"{name} must be true or false")


def _integer(name: str, raw: str, low: int, high: int = PAGE_HIGH) -> int:
    try:
        number = int(raw.strip())
    except ValueError:
        raise QueryError(name, f"{name} must be an integer") from None
    if not low <= number <= high:
        raise QueryError(name, f"{name} must be between {low} and {high}")
    return number


def _number(name: str, vr: str, item: str) -> float:
    """One numeric matching value: finite, and for an integer VR within 64 bits."""
    try:
        number = float(item)
    except ValueError:
        raise QueryError(name, f"{name} must be a number or a comma list of "
                               "numbers") from None
    if not math.isfinite(number):
        raise QueryError(name, f"{name} must be a finite number")
    if vr in INTEGER_VRS:
        # Exactly when written as an integer (a float rounds 2**63 + 1 to 2**63), else
        # ("1e30") as the float it is.
        exact = int(item) if _INTEGER_TEXT.match(item) else number
        if not INTEGER_LOW <= exact <= INTEGER_HIGH:
            raise QueryError(name, f"{name} ({vr}) must be between {INTEGER_LOW} and "
                                   f"{INTEGER_HIGH}")
    return number


def _terms(name: str, vr: str, raw: str) -> list[Term]:
    """The alternatives of one value; [] for universal matching."""
    text = raw.strip()
    if text in ("", "*"):
        return []
    if vr == "SQ" or vr in ("OB", "OW", "OF", "OD", "OL", "OV", "AT"):
        raise QueryError(name, f"{name} ({vr}) can only be matched universally (an empty "
                               "value or '*')")
    if vr == "UI":
        uids = [item.strip() for item in re.split(r"[,\\]", text) if item.strip()]
        for uid in uids:
            if not _UID.match(uid) or len(uid) > 64:
                raise QueryError(name, f"{name} must be a UID or a comma list of UIDs")
        return [Term("exact", uid) for uid in uids]
    if vr in temporal_ranges.TEMPORAL_VRS:
        bounds = temporal_ranges.parse_range(vr, text)
        if bounds is None:
            shape = {"DA": "YYYYMMDD", "TM": "HHMMSS.FFFFFF", "DT": "YYYYMMDDHHMMSS.FFFFFF"}
            raise QueryError(name, f"{name} must be a {vr} value ({shape[vr]}) or a range "
                                   f"A-B, A- or -B")
        # A time range may wrap (2000-0600) when combined with a date range.
        if vr != "TM" and bounds[0] and bounds[1] and bounds[0] > bounds[1]:
            raise QueryError(name, f"{name}: the range starts after it ends")
        return [Term("range", "range" if bounds[2] else "", low=bounds[0], high=bounds[1])]
    if vr in NUMERIC_VRS:
        return [Term("number", item, number=_number(name, vr, item))
                for item in (part.strip() for part in text.split(","))]
    items = [part.strip() for part in text.split(",")] if vr == "CS" else [text]
    return [Term("wildcard" if "*" in item or "?" in item else "exact", item)
            for item in items if item]


def parse_query(args: Iterable[tuple[str, str]], level: str, *, default_limit: int,
                max_limit: int) -> QidoQuery:
    """Parse the (key, value) pairs of a query string for a search at `level`."""
    query = QidoQuery(level, limit=default_limit)
    grouped: dict[tuple[str, ...], tuple[str, list[str]]] = {}
    for name, raw in args:
        if name == "":
            continue  # "?&includefield=…" (Weasis) carries an empty key
        if name == "includefield":
            for item in (part.strip() for part in raw.split(",")):
                if item.lower() == "all":
                    query.include_all = True
                elif item:
                    query.include.add(parse_path(item)[0])
        elif name in ("fuzzymatching", "emptyvaluematching", "multiplevaluematching"):
            setattr(query, {"fuzzymatching": "fuzzy", "emptyvaluematching": "empty",
                            "multiplevaluematching": "multiple"}[name], _boolean(name, raw))
        elif name == "limit":
            asked = _integer(name, raw, 1)
            query.limit, query.capped = min(asked, max_limit), asked > max_limit
        elif name == "offset":
            query.offset = _integer(name, raw, 0)
        else:
            path = parse_path(name)
            if levels.level_rank(levels.level_of(path[0])) > levels.level_rank(level):
                raise QueryError(name, f"{name} is an attribute of the "
                                       f"{levels.level_of(path[0])} level, not a matching key "
                                       f"of a {level} search")
            grouped.setdefault(path, (name, []))[1].append(raw)
    for path, (name, raws) in grouped.items():
        vr = levels.vr_of(path[-1])
        terms = [term for raw in raws for term in _terms(name, vr, raw)]
        universal = any(_terms(name, vr, raw) == [] for raw in raws)
        query.filters.append(Filter(path, vr, () if universal else tuple(terms)))
    query.filters = _combine_date_time(query.filters)
    return query


def _combine_date_time(filters: list[Filter]) -> list[Filter]:
    by_key = {f.path: f for f in filters if len(f.path) == 1}
    for date_key, time_key in DATE_TIME_PAIRS:
        date, time = by_key.get((date_key,)), by_key.get((time_key,))
        if not (date and time and len(date.terms) == 1 and len(time.terms) == 1):
            continue
        day, hour = date.terms[0], time.terms[0]
        if day.text != "range" or hour.text != "range":
            continue  # not both ranges: each attribute is matched on its own
        low = (day.low + (hour.low or "000000.000000")) if day.low else None
        high = (day.high + (hour.high or "235959.999999")) if day.high else None
        combined = Filter((date_key,), "DT", (Term("range", low=low, high=high),),
                          time_key=time_key)
        filters = [f for f in filters if f.path not in ((date_key,), (time_key,))]
        filters.append(combined)
    return filters
