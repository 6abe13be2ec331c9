"""Request parsing and response headers the pixel and volume views share.

Query parameters are checked against a closed set, the representation comes
from `format`, else from `Accept`, else a default; the answers carry patient
data, so they say how caches may keep them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask import request

from service.errors import BadRequest, NotAcceptable

# Pixels are patient data: shared caches must not keep them; the body depends on Accept.
PATIENT_DATA_HEADERS = {"Cache-Control": "private, max-age=300", "Vary": "Accept"}


def reject_unknown(names: Iterable[str], parameters: frozenset[str]) -> None:
    """400 naming the first (sorted) query parameter that is not in `parameters`."""
    unknown = sorted(set(names) - parameters)
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}; parameters are "
                         f"{', '.join(sorted(parameters))}", parameter=unknown[0])


def negotiate(fmt: str | None, accept: str | None, formats: Mapping[str, str],
              default: str) -> str:
    """`format` wins; else the best of Accept; no Accept → `default`; nothing acceptable → 406.

    `formats` maps each `format` value to its media type, in order of preference.
    """
    if fmt is not None:
        if fmt not in formats:
            raise BadRequest(f"format must be one of {', '.join(formats)}", parameter="format")
        return formats[fmt]
    if not accept or not accept.strip():
        return default
    best = request.accept_mimetypes.best_match(list(formats.values()))
    if best is None:
        raise NotAcceptable(
            f"None of the accepted media types can be served; available: "
            f"{', '.join(formats.values())} (or format={'|'.join(formats)}).",
            available=list(formats.values()))
    return best


def parse_dtype(value: str | None) -> str:
    """The `dtype` parameter: float32 (default) or int16."""
    if value is None or value == "":
        return "float32"
    if value not in ("float32", "int16"):
        raise BadRequest("dtype must be float32 or int16", parameter="dtype")
    return value
