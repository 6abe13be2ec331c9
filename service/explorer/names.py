"""The public DICOM data dictionary as one compact JSON document for the explorer page.

The page shows every attribute with its keyword and name; asking GET /v1/tags
once per attribute would cost hundreds of requests per instance, so the page
loads this table once. Names come from pydicom's dictionary through
service.dicom.dictionary, like everywhere else in the service.
"""

from __future__ import annotations

import gzip
from functools import lru_cache

import orjson
from pydicom.datadict import DicomDictionary

from service.dicom.dictionary import lookup


@lru_cache(maxsize=1)
def dictionary_json() -> bytes:
    """{"GGGGEEEE": [keyword, name, vr, vm, retired], …} for every public tag pydicom knows."""
    table: dict[str, list[object]] = {}
    for tag in sorted(DicomDictionary):
        info = lookup(tag)
        if info is not None:
            table[info.tag] = [info.keyword or "", info.name or "", info.vr or "",
                               info.vm or "", int(info.retired)]
    return orjson.dumps(table)


@lru_cache(maxsize=1)
def dictionary_json_gzip() -> bytes:
    """The same, gzip-compressed once (≈ 400 KB → ≈ 80 KB on the wire)."""
    return gzip.compress(dictionary_json(), compresslevel=9, mtime=0)
