"""BulkDataURIs of stored DICOM JSON → this service's own bulkdata route, on bytes.

The stored JSON is compact (orjson) and its BulkDataURIs are Google's
`…/dicomWeb/studies/{study}/series/{series}/instances/{sop}/bulkdata/{path}`.
One regular expression over the bytes swaps the prefix for
`{base}/dicomweb/studies/{study}/series/{series}/instances/{sop}/bulkdata/`,
without parsing the JSON (a 300-instance study is megabytes). URIs of any other
shape are left as they are.
"""

from __future__ import annotations

import re

_GOOGLE_BULKDATA = re.compile(
    rb'("BulkDataURI"\s*:\s*")[^"]*?/dicomWeb/studies/([0-9.]+)/series/([0-9.]+)'
    rb'/instances/([0-9.]+)/bulkdata/')


def rewrite_bulkdata_uris(body: bytes, base_url: str) -> bytes:
    """`body` with Google BulkDataURIs re-rooted onto `base_url` (…/dicomweb excluded)."""
    if b"BulkDataURI" not in body:
        return body
    root = base_url.rstrip("/").encode()
    if b'"' in root or b"\\" in root:
        raise ValueError("the base URL must not contain quotes or backslashes")

    def replace(match: re.Match[bytes]) -> bytes:
        return (match.group(1) + root + b"/dicomweb/studies/" + match.group(2)
                + b"/series/" + match.group(3) + b"/instances/" + match.group(4)
                + b"/bulkdata/")

    return _GOOGLE_BULKDATA.sub(replace, body)


def bulkdata_path_of(uri: str) -> str | None:
    """The `{path}` after "/bulkdata/" of a BulkDataURI ("7FE00010", "00540016/0/…")."""
    head, sep, tail = uri.partition("/bulkdata/")
    return tail if sep and head else None
