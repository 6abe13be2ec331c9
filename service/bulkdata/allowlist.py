"""Which URIs a bearer token may be sent to, and re-rooting Google URLs onto an emulator.

A BulkDataURI comes from an uploaded dump, so it is untrusted input: before the
client attaches a Google access token to a request, the URI must name an
allowed host (and, when the entry pins one, an allowed store path) over https,
or over http on a loopback address. Anything else is refused with 422 and
never fetched.

Allowlist entries are `host`, `host:port` or `host[:port]/path/prefix`, e.g.
`healthcare.googleapis.com/v1/projects/p/locations/l/datasets/d/dicomStores/s`.
An entry without a port matches only the scheme's default port.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import SplitResult, urlsplit

from service.errors import Unprocessable

GOOGLE_HEALTHCARE_HOST = "healthcare.googleapis.com"
_DEFAULT_PORTS = {"https": 443, "http": 80}
# Percent-encoded '/', '.', '\' could smuggle a traversal past a pinned store path.
_ENCODED_SEPARATORS = re.compile(r"%(2f|2e|5c)", re.IGNORECASE)
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_MAX_ECHO = 200


@dataclass(frozen=True)
class AllowEntry:
    """One parsed allowlist entry."""

    host: str
    port: int | None
    path: str | None


def parse_entry(entry: str) -> AllowEntry:
    """Parse `host[:port][/path]`; a scheme in the entry is tolerated and ignored."""
    text = entry.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    parts = urlsplit("//" + text)
    host = _normalize_host(parts.hostname or "")
    if not host:
        raise ValueError(f"allowlist entry {entry!r} names no host")
    path = parts.path.rstrip("/") or None
    return AllowEntry(host=host, port=parts.port, path=path)


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: the only hosts reachable over plain http."""
    host = _normalize_host(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_uri(uri: str, allowed: Sequence[str]) -> None:
    """Raise Unprocessable unless a bearer token may be sent to `uri`."""
    parts = _split_safely(uri)
    scheme = parts.scheme.lower()
    host = _normalize_host(parts.hostname or "")
    if scheme not in _DEFAULT_PORTS:
        _refuse(uri, f"scheme {scheme or '(none)'!r} is not allowed; "
                     "only https (or http on loopback)")
    if "@" in parts.netloc:
        _refuse(uri, "URIs with user information are not allowed")
    if not host:
        _refuse(uri, "the URI names no host")
    try:
        port = parts.port
    except ValueError:
        _refuse(uri, "the URI has an invalid port")
    if scheme == "http" and not is_loopback(host):
        _refuse(uri, f"plain http is only allowed to loopback hosts, not {host!r}")
    if _ENCODED_SEPARATORS.search(parts.path) or any(
        segment in (".", "..") for segment in parts.path.split("/")
    ):
        _refuse(uri, "the URI path contains dot segments or encoded separators")
    effective_port = port if port is not None else _DEFAULT_PORTS[scheme]
    for entry in (parse_entry(item) for item in allowed if item.strip()):
        if entry.host != host:
            continue
        wanted_port = entry.port if entry.port is not None else _DEFAULT_PORTS[scheme]
        if wanted_port != effective_port:
            continue
        if entry.path is None or parts.path == entry.path \
                or parts.path.startswith(entry.path + "/"):
            return
    _refuse(uri, f"host {host!r} (port {effective_port}) and path are not in the "
                 "bulk-data allowlist")


def reroot(uri: str, api_root: str) -> str:
    """Move a Google Healthcare URL onto `api_root` (an emulator); leave other URLs alone."""
    parts = urlsplit(uri)
    if _normalize_host(parts.hostname or "") != GOOGLE_HEALTHCARE_HOST:
        return uri
    root = api_root.rstrip("/")
    if root == f"https://{GOOGLE_HEALTHCARE_HOST}":
        return uri
    rerooted = root + parts.path
    if parts.query:
        rerooted += "?" + parts.query
    return rerooted


def same_origin(uri: str, api_root: str) -> bool:
    """True when `uri` points at the scheme, host and port of `api_root`."""
    left, right = urlsplit(uri), urlsplit(api_root)
    try:
        return (
            left.scheme.lower() == right.scheme.lower()
            and _normalize_host(left.hostname or "") == _normalize_host(right.hostname or "")
            and (left.port or _DEFAULT_PORTS.get(left.scheme.lower()))
            == (right.port or _DEFAULT_PORTS.get(right.scheme.lower()))
            and "@" not in left.netloc
        )
    except ValueError:
        return False


def _split_safely(uri: str) -> SplitResult:
    if not isinstance(uri, str) or not uri or _UNSAFE_CHARS.search(uri):
        _refuse(str(uri), "the URI is empty or contains whitespace, control characters or '\\'")
    try:
        return urlsplit(uri)
    except ValueError:
        _refuse(uri, "the URI cannot be parsed")


def _normalize_host(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _refuse(uri: str, reason: str) -> NoReturn:
    shown = uri if len(uri) <= _MAX_ECHO else uri[:_MAX_ECHO] + "…"
    raise Unprocessable(
        f"BulkDataURI refused: {reason}.", uri=shown,
        allowed_hosts_setting="DICOM_RESOLVER_BULKDATA_ALLOWED_HOSTS",
    )
