"""Parse and validate the DICOM JSON Model (PS3.18 Annex F) without losing what was sent.

A dump is a JSON array of instances (or one instance). Each attribute is
``"GGGGEEEE": {"vr": VR, "Value": [...] | "BulkDataURI": uri | "InlineBinary": b64}``.

Parsing is exact: orjson parses the body (fast path); when the body holds a
number whose text a float round trip would change ("1.50", "1e3", a 20-digit
integer) the slow path re-parses with the standard library, keeping such
numbers as :class:`ExactFloat` / :class:`ExactInt` that serialize back to
their original text. Validation reports every problem with its JSON path.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydicom.valuerep import MAX_VALUE_LEN

from service.dicom import uids

MAX_WARNINGS = 200

# PS3.18 F.2.3: the JSON types each VR's Value items may take.
STRING_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "LO", "LT", "SH", "ST", "TM", "UC",
                        "UI", "UR", "UT"})
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
INT_RANGES = {
    "US": (0, 2**16 - 1), "SS": (-(2**15), 2**15 - 1),
    "UL": (0, 2**32 - 1), "SL": (-(2**31), 2**31 - 1),
    "UV": (0, 2**64 - 1), "SV": (-(2**63), 2**63 - 1),
}
FLOAT_VRS = frozenset({"FL", "FD"})
SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
ALL_VRS = STRING_VRS | BINARY_VRS | FLOAT_VRS | frozenset(INT_RANGES) | {"PN", "DS", "IS",
                                                                         "AT", "SQ"}
PN_GROUPS = frozenset({"Alphabetic", "Ideographic", "Phonetic"})
# PS3.5 Table 6.2-1 maximum value lengths, counted here in characters: pydicom's table,
# plus the age, date and time VRs it leaves out. Longer values are kept, with a warning.
MAX_LENGTHS: dict[str, int] = {**MAX_VALUE_LEN, "AS": 4, "DA": 8, "DT": 26, "TM": 14}
PN_GROUP_MAX_LENGTH = 64  # per component group
ATTRIBUTE_MEMBERS = frozenset({"vr", "Value", "BulkDataURI", "InlineBinary"})

_DS_RE = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_IS_RE = re.compile(r"^\s*[+-]?\d+\s*$")
_ODD_HEX = frozenset("13579BDFbdf")  # the last digit of a private (odd) group
_HEX8_RE = re.compile(r"[0-9A-Fa-f]{8}\Z")  # \Z: "$" would allow a final newline
# The start of a JSON number token (after [ , or :) whose text a float round trip
# may change: an exponent, a fraction of two or more digits ending in 0 ("1.50"),
# 17 or more digits and dots (16+ significant digits, or beyond 64 bits), 0.0000…
# (orjson writes small numbers as 1e-7) and "-0". Every other token has at most 15
# significant digits in orjson's plain range, so it is already in its shortest
# round-trip form (DBL_DIG = 15) and orjson writes it back unchanged. Suspects are
# then checked exactly; a match inside a string only costs that check.
_SUSPECT_RE = re.compile(
    rb"[\[,:][ \t\n\r]*(?=-?\d[\d.]*[eE]|-?\d+\.\d*\d0(?![\deE])|-?[\d.]{17}|-?0\.0000"
    rb"|-0(?![\d.eE]))")
_TOKEN_RE = re.compile(rb"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
# orjson writes at most this many nested arrays and objects; deeper JSON is refused
# (a dump within the sequence depth limit nests far less).
MAX_JSON_DEPTH = 254
TOO_DEEP = (f"arrays and objects nested more than {MAX_JSON_DEPTH} levels deep (sequences "
            "nest far less: DICOM_RESOLVER_MAX_SEQUENCE_DEPTH)")


class ExactFloat(float):
    """A JSON number that keeps its source text ("1.50" stays "1.50", 10**30 stays exact)."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> ExactFloat:
        obj = super().__new__(cls, text)
        obj.text = text
        return obj


class DuplicateKeyObject(dict):
    """A JSON object that named a key more than once (the last value kept, as JSON
    parsers do); the Validator refuses it, naming the keys. Only the careful parser
    (load_exact) makes these."""

    __slots__ = ("duplicates",)

    def __init__(self, pairs: list[tuple[str, Any]], duplicates: list[str]) -> None:
        super().__init__(pairs)
        self.duplicates = duplicates


def _object(pairs: list[tuple[str, Any]]) -> dict:
    """json.loads object_pairs_hook: a dict, or a DuplicateKeyObject when a key repeats."""
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    duplicates = []
    for key, _value in pairs:
        if key in seen and key not in duplicates:
            duplicates.append(key)
        seen.add(key)
    return DuplicateKeyObject(pairs, duplicates)


class JsonSyntaxError(ValueError):
    """The body is not JSON at all; carries the position of the first error."""

    def __init__(self, message: str, position: int | None) -> None:
        super().__init__(message)
        self.position = position


@dataclass(slots=True)
class Finding:
    """One problem or warning, located by instance index and JSON path."""

    instance: int | None
    path: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"instance": self.instance, "path": self.path, "detail": self.detail}


@dataclass(slots=True)
class Findings:
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    warnings_dropped: int = 0

    def error(self, instance: int | None, path: str, detail: str) -> None:
        self.errors.append(Finding(instance, path, detail))

    def warn(self, instance: int | None, path: str, detail: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(Finding(instance, path, detail))
        else:
            self.warnings_dropped += 1


def _default(obj: Any) -> Any:
    if isinstance(obj, ExactFloat):
        return orjson.Fragment(obj.text)
    raise TypeError(type(obj).__name__)


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes; exact numbers are written back as they were received."""
    return orjson.dumps(obj, default=_default)


def _is_canonical(token: bytes) -> bool:
    """True when orjson reads `token` into a value that it writes back as the same text."""
    try:
        return orjson.dumps(orjson.loads(token)) == token
    except orjson.JSONDecodeError:
        return False


def has_inexact_number(body: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether body[start:end] holds a number that orjson would not write back verbatim."""
    end = len(body) if end is None else end
    checked: set[bytes] = set()
    for suspect in _SUSPECT_RE.finditer(body, start, end):
        token = _TOKEN_RE.match(body, suspect.end(), end)
        if token is None:
            continue  # inside a string: no number starts here
        text = token.group()
        if text not in checked:
            if not _is_canonical(text):
                return True
            checked.add(text)
    return False


def may_repeat_keys(text: bytes, compact: bytes, start: int = 0,
                    end: int | None = None) -> bool:
    """Whether the JSON text[start:end] may name a key twice in one object, given
    `compact`, what orjson writes for what it parsed from that text (one value per key).
    False only when that is certain: the texts are equal, or they hold as many colons and
    the text has no \\u escape. A colon is a key's, or a literal character of a string;
    without \\u escapes both texts spell every string's colons alike, so fewer colons in
    `compact` mean fewer keys. Cheap: byte comparisons and counts in place, no copy."""
    end = len(text) if end is None else end
    if end - start == len(compact) and text.startswith(compact, start):
        return False
    return text.find(b"\\u", start, end) != -1 \
        or text.count(b":", start, end) != compact.count(b":")


def load_json(body: bytes) -> Any:
    """Parse JSON bytes exactly (see module doc). Raises JsonSyntaxError.

    A document with a key named twice in one object is parsed by the careful parser,
    which marks that object (DuplicateKeyObject) for the Validator to refuse.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("depth limit"):
            raise JsonSyntaxError(f"body is not acceptable JSON: {TOO_DEEP}", exc.pos) \
                from None
        return _load_exact(body)
    if has_inexact_number(body):
        return _load_exact(body)
    try:
        compact = orjson.dumps(document)
    except TypeError:  # a lone surrogate or deep nesting: the careful path says where
        return _load_exact(body)
    if may_repeat_keys(body, compact):
        return _load_exact(body)
    return document


def load_exact(body: bytes | memoryview) -> Any:
    """Parse JSON that orjson accepts, keeping inexact numbers' text (the slow path)."""
    return _load_exact(bytes(body))


def _load_exact(body: bytes) -> Any:
    def big_int(text: str) -> int | ExactFloat:
        # Integers beyond 64 bits, and "-0", cannot be written back by orjson: keep their text.
        value = int(text)
        if -(2**63) <= value < 2**64 and (value or text[0] != "-"):
            return value
        return ExactFloat(text)

    try:
        text = body.decode("utf-8")
        return json.loads(text, parse_float=ExactFloat, parse_int=big_int,
                          parse_constant=_reject_constant, object_pairs_hook=_object)
    except RecursionError:
        raise JsonSyntaxError(f"body is not acceptable JSON: {TOO_DEEP}", None) from None
    except UnicodeDecodeError as exc:
        raise JsonSyntaxError("body is not UTF-8 encoded JSON", exc.start) from None
    except json.JSONDecodeError as exc:
        raise JsonSyntaxError(f"body is not valid JSON: {exc.msg}", exc.pos) from None
    except ValueError as exc:
        raise JsonSyntaxError(f"body is not valid JSON: {exc}", None) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (write NaN/Infinity as strings)")


def split_dump(document: Any, findings: Findings) -> list[dict]:
    """The instances of a dump: an array of objects, or one object."""
    if isinstance(document, dict):
        return [document]
    if not isinstance(document, list):
        findings.error(None, "$", "a dump is a JSON array of instance objects (or one object)")
        return []
    for index, item in enumerate(document):
        if not isinstance(item, dict):
            findings.error(index, f"$[{index}]", f"an instance must be a JSON object, "
                                                 f"not {_json_type(item)}")
    return document


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class Validator:
    """Validates instances in place; canonicalizes lowercase tag keys (with a warning)."""

    def __init__(self, findings: Findings, max_depth: int = 16) -> None:
        self.findings = findings
        self.max_depth = max_depth

    def instance(self, instance: dict, index: int) -> dict:
        canonical = self._dataset(instance, index, f"$[{index}]", 0)
        for key, name in uids.IDENTIFYING:  # present ones; records.py requires them
            value = first_value(canonical, key)
            error = uids.identifier_error(name, value) if isinstance(value, str) else None
            if error:
                self.findings.error(index, f"$[{index}].{key}.Value[0]", error)
        return canonical

    def _repeated_keys(self, obj: dict, index: int, path: str) -> bool:
        """Refuse an object that named a key twice: which value counts is not for us to
        guess (JSON parsers keep the last one silently)."""
        if obj.__class__ is not DuplicateKeyObject:
            return False
        for key in obj.duplicates:
            self.findings.error(index, f"{path}.{key}", f"key {key!r} appears more than "
                                                        "once in this object")
        return True

    def _dataset(self, dataset: dict, index: int, path: str, depth: int) -> dict:
        if self._repeated_keys(dataset, index, path):
            return dataset
        canonical = dataset
        lowered = [key for key in dataset if isinstance(key, str) and not key.isupper()
                   and _HEX8_RE.match(key) and not key.isdigit()]
        if lowered:
            self.findings.warn(index, path, f"{len(lowered)} tag key(s) in lower case "
                                            f"(e.g. {lowered[0]!r}); read as upper case")
            canonical = {key.upper() if _HEX8_RE.match(key) else key: value
                         for key, value in dataset.items()}
        for key, attribute in canonical.items():
            self._attribute(key, attribute, index, f"{path}.{key}", depth)
        return canonical

    def _attribute(self, key: str, attribute: Any, index: int, path: str, depth: int) -> None:
        findings = self.findings
        if not _HEX8_RE.match(key):
            findings.error(index, path, "attribute key must be 8 hexadecimal digits (GGGGEEEE)")
            return
        if not isinstance(attribute, dict):
            findings.error(index, path, "attribute must be an object with a 'vr' member")
            return
        if self._repeated_keys(attribute, index, path):
            return
        vr = attribute.get("vr")
        if vr is None:
            findings.error(index, path, "missing 'vr'")
            return
        if not isinstance(vr, str) or vr not in ALL_VRS:
            findings.error(index, f"{path}.vr", f"unknown VR {vr!r}")
            return
        if len(attribute) > 2 or not ATTRIBUTE_MEMBERS.issuperset(attribute):
            extra = sorted(set(attribute) - ATTRIBUTE_MEMBERS)
            if extra:
                findings.warn(index, path, f"unexpected member(s) {extra} ignored")
                for member in extra:  # ignored, but stored: readable back, or not at all
                    unreadable = _unreadable(attribute[member], f"{path}.{member}")
                    if unreadable:
                        findings.error(index, *unreadable)
            carriers = [m for m in ("Value", "BulkDataURI", "InlineBinary") if m in attribute]
            if len(carriers) > 1:
                findings.error(index, path, f"only one of {carriers} may be present")
                return
        if key.endswith("0000"):
            findings.warn(index, path, "group length element; ignored")
        if "Value" in attribute:
            values = attribute["Value"]
            if not isinstance(values, list):
                findings.error(index, f"{path}.Value", "'Value' must be an array")
                return
            self._values(vr, values, index, f"{path}.Value", depth)
        elif "BulkDataURI" in attribute:
            if not isinstance(attribute["BulkDataURI"], str):
                findings.error(index, f"{path}.BulkDataURI", "BulkDataURI must be a string")
        elif "InlineBinary" in attribute:
            if not isinstance(attribute["InlineBinary"], str):
                findings.error(index, f"{path}.InlineBinary", "InlineBinary must be a string")

    def _values(self, vr: str, values: list, index: int, path: str, depth: int) -> None:
        findings = self.findings
        if vr in STRING_VRS:
            longest = MAX_LENGTHS.get(vr)
            for i, value in enumerate(values):
                if value is not None and not isinstance(value, str):
                    findings.error(index, f"{path}[{i}]",
                                   f"{vr} value must be a string, not {_json_type(value)}")
                elif vr == "UI" and value is not None:
                    problem = uids.nonconformance(value)
                    if problem:
                        findings.warn(index, f"{path}[{i}]", problem)
                elif longest is not None and value is not None and len(value) > longest:
                    findings.warn(index, f"{path}[{i}]", _too_long(vr, longest))
        elif vr == "SQ":
            if depth >= self.max_depth:
                findings.error(index, path, f"sequences nested deeper than {self.max_depth}")
                return
            for i, item in enumerate(values):
                if not isinstance(item, dict):
                    findings.error(index, f"{path}[{i}]",
                                   f"sequence item must be an object, not {_json_type(item)}")
                else:
                    canonical = self._dataset(item, index, f"{path}[{i}]", depth + 1)
                    if canonical is not item:
                        values[i] = canonical
        elif vr == "PN":
            for i, value in enumerate(values):
                self._person_name(value, index, f"{path}[{i}]")
        elif vr == "DS":
            for i, value in enumerate(values):
                if isinstance(value, str):
                    if value.strip() and not _DS_RE.match(value):
                        findings.warn(index, f"{path}[{i}]", "DS value is not a decimal "
                                                             "number; kept as text")
                    elif value.strip() and not math.isfinite(float(value)):
                        findings.warn(index, f"{path}[{i}]", OVERFLOW)
                    elif len(value) > MAX_LENGTHS["DS"]:
                        findings.warn(index, f"{path}[{i}]", _too_long("DS", MAX_LENGTHS["DS"]))
                elif isinstance(value, float) and not math.isfinite(value):
                    findings.error(index, f"{path}[{i}]", NUMBER_OVERFLOW)
                elif value is not None and (isinstance(value, bool)
                                            or not isinstance(value, (int, float))):
                    findings.error(index, f"{path}[{i}]",
                                   f"DS value must be a number or string, not "
                                   f"{_json_type(value)}")
        elif vr == "IS":
            for i, value in enumerate(values):
                if isinstance(value, str):
                    if value.strip() and not _IS_RE.match(value):
                        findings.warn(index, f"{path}[{i}]", "IS value is not an integer; "
                                                             "kept as text")
                    elif len(value) > MAX_LENGTHS["IS"]:
                        findings.warn(index, f"{path}[{i}]", _too_long("IS", MAX_LENGTHS["IS"]))
                elif isinstance(value, float) and value.is_integer():
                    continue
                elif value is not None and (isinstance(value, bool)
                                            or not isinstance(value, int)):
                    findings.error(index, f"{path}[{i}]",
                                   f"IS value must be an integer, not {_json_type(value)}")
        elif vr in INT_RANGES:
            low, high = INT_RANGES[vr]
            for i, value in enumerate(values):
                if isinstance(value, str) and vr in ("UV", "SV") and _IS_RE.match(value):
                    value = int(value)  # PS3.18 F.2.3.1 allows 64-bit values as strings
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, int):
                    if isinstance(value, float) and value.is_integer():
                        value = int(value)
                    else:
                        findings.error(index, f"{path}[{i}]",
                                       f"{vr} value must be an integer, not {_json_type(value)}")
                        continue
                if not low <= value <= high:
                    findings.error(index, f"{path}[{i}]", f"{vr} value {value} is outside "
                                                          f"[{low}, {high}]")
        elif vr in FLOAT_VRS:
            for i, value in enumerate(values):
                if isinstance(value, str):
                    if value not in SPECIAL_FLOATS:
                        findings.error(index, f"{path}[{i}]", f"{vr} string value must be "
                                                              "NaN, Infinity or -Infinity")
                elif isinstance(value, float) and not math.isfinite(value):
                    findings.error(index, f"{path}[{i}]", NUMBER_OVERFLOW)
                elif value is not None and (isinstance(value, bool)
                                            or not isinstance(value, (int, float))):
                    findings.error(index, f"{path}[{i}]",
                                   f"{vr} value must be a number, not {_json_type(value)}")
        elif vr == "AT":
            for i, value in enumerate(values):
                if not isinstance(value, str) or not _HEX8_RE.match(value):
                    findings.error(index, f"{path}[{i}]", "AT value must be a tag of "
                                                          "8 hexadecimal digits")
        elif vr in BINARY_VRS:
            findings.error(index, path, f"{vr} carries bytes: use InlineBinary or "
                                        "BulkDataURI, not Value")

    def _person_name(self, value: Any, index: int, path: str) -> None:
        if value is None:
            return
        if isinstance(value, str):
            self.findings.warn(index, path, "PN value given as a string; read as Alphabetic")
            return
        if not isinstance(value, dict):
            self.findings.error(index, path, f"PN value must be an object with Alphabetic/"
                                             f"Ideographic/Phonetic, not {_json_type(value)}")
            return
        if self._repeated_keys(value, index, path):
            return
        for group, text in value.items():
            if group not in PN_GROUPS:
                self.findings.error(index, f"{path}.{group}", "PN component group must be "
                                                              "Alphabetic, Ideographic or "
                                                              "Phonetic")
            elif not isinstance(text, str):
                self.findings.error(index, f"{path}.{group}", "PN component group must be "
                                                              "a string")
            elif len(text) > PN_GROUP_MAX_LENGTH:
                self.findings.warn(index, f"{path}.{group}", _too_long("PN component group",
                                                                       PN_GROUP_MAX_LENGTH))


OVERFLOW = "value is beyond the range of a 64-bit float; kept as received"
# A JSON number that overflows is refused: JSON readers (orjson among them) cannot read
# it back from the store. As a DS string it is kept, with a warning (OVERFLOW).
NUMBER_OVERFLOW = ("number is beyond the range of a 64-bit float, which JSON readers "
                   "cannot read back; send a DS value as a string")


def _too_long(what: str, longest: int) -> str:
    return f"{what} value is longer than {longest} characters; kept as received"


def is_valid_uid(text: str) -> bool:
    return uids.is_conformant(text)


def _unreadable(value: Any, path: str) -> tuple[str, str] | None:
    """(path, detail) of a key named twice or of a number that overflows anywhere within
    `value` (iterative: JSON the Validator does not otherwise look into), or None."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, DuplicateKeyObject):
            key = item.duplicates[0]
            return f"{where}.{key}", f"key {key!r} appears more than once in this object"
        if isinstance(item, float) and not math.isfinite(item):
            return where, NUMBER_OVERFLOW
        if isinstance(item, dict):
            stack.extend((member, f"{where}.{key}") for key, member in item.items())
        elif isinstance(item, list):
            stack.extend((member, f"{where}[{i}]") for i, member in enumerate(item))
    return None


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unwritable(value: Any, path: str) -> tuple[str, str] | None:
    """Where `value` (parsed JSON) holds what no JSON text can carry back, and why: a string
    with a lone UTF-16 surrogate ("\\ud800" escapes parse, but name no character), or
    nesting deeper than MAX_JSON_DEPTH. None when it is writable. Iterative: the nesting
    may be deeper than Python's recursion limit."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if not _is_unicode(item):
                return where, "string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff)"
        elif isinstance(item, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                return where, TOO_DEEP
            if isinstance(item, dict):
                for key, member in item.items():
                    if not _is_unicode(key):
                        return where, "key holds a lone UTF-16 surrogate escape"
                    stack.append((member, f"{where}.{key}", depth + 1))
            else:
                stack.extend((member, f"{where}[{i}]", depth + 1)
                             for i, member in enumerate(item))
    return None


def first_value(dataset: dict, key: str) -> Any:
    """The first value of the attribute `key` ("GGGGEEEE"), or None (also when malformed)."""
    attribute = dataset.get(key)
    if not isinstance(attribute, dict):
        return None
    values = attribute.get("Value")
    if not isinstance(values, list) or not values:
        return None
    return values[0]


def private_creators(dataset: dict) -> dict[int, str]:
    """Private creator tag (gggg,00bb) → creator name, for the private blocks of a dataset."""
    creators = {}
    for key in dataset:
        if key[3] not in _ODD_HEX:
            continue
        tag = int(key, 16)
        if 0x10 <= (tag & 0xFFFF) <= 0xFF:
            value = first_value(dataset, key)
            if isinstance(value, str):
                creators[tag] = value.strip()
    return creators


__all__ = [
    "ExactFloat", "Finding", "Findings", "JsonSyntaxError", "Validator",
    "dumps", "first_value", "is_valid_uid", "private_creators", "load_json", "split_dump",
]
