"""Every DICOM_RESOLVER_* setting, typed, with its default, read once.

Settings are loaded from defaults, then the environment, then explicit
overrides (tests). Nothing else in the package reads os.environ.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

PREFIX = "DICOM_RESOLVER_"


@dataclasses.dataclass(frozen=True)
class Settings:
    # SQLAlchemy URL of the store; SQLite is the embedded default.
    database_url: str = "sqlite:///var/dicom-resolver.sqlite3"
    # Largest accepted request body for POST /v1/dumps, in bytes (after decompression).
    max_dump_bytes: int = 512 * 1024 * 1024
    # Deepest sequence nesting accepted in a dump (protects the parser from hostile input).
    max_sequence_depth: int = 16
    # Default and maximum page sizes of list endpoints.
    default_page_limit: int = 100
    max_page_limit: int = 1000
    # Address `dicom-resolver serve` binds to.
    host: str = "127.0.0.1"
    port: int = 8080
    # Hosts a bearer token may be sent to when resolving BulkDataURIs (comma-separated).
    bulkdata_allowed_hosts: tuple[str, ...] = ("healthcare.googleapis.com",)
    # Root that Google Healthcare URLs are re-rooted onto (an emulator or test double).
    healthcare_api_root: str = "https://healthcare.googleapis.com"
    # Default DICOM store path (projects/…/locations/…/datasets/…/dicomStores/…).
    dicom_store: str | None = None
    # Ask Google to transcode compressed pixel data (frames route) instead of decoding locally.
    transcode_upstream: bool = False
    # Pixel payload cache budget in bytes (0 disables it).
    pixel_cache_bytes: int = 512 * 1024 * 1024
    # Upstream timeouts (seconds) and retry budget.
    upstream_connect_timeout: float = 5.0
    upstream_read_timeout: float = 60.0
    upstream_max_retries: int = 4
    upstream_retry_budget_seconds: float = 30.0
    # Log level of the service's loggers.
    log_level: str = "INFO"
    # Log records as one JSON object per line ("json") or as plain text ("text").
    log_format: str = "json"
    # Upgrade a PostgreSQL store's schema when the service starts (SQLite always is).
    migrate_on_start: bool = False
    # Caller authentication: "none", "api-key" or "google-id-token".
    auth: str = "none"
    # Accepted API keys (comma-separated), and/or a file holding one key per line.
    api_keys: tuple[str, ...] = ()
    api_keys_file: str | None = None
    # Audience that Google ID tokens must carry, and the service accounts allowed (empty: any).
    auth_audience: str | None = None
    auth_allowed_emails: tuple[str, ...] = ()
    # Where Google's ID token signing certificates are fetched (a test serves its own).
    auth_certs_url: str = "https://www.googleapis.com/oauth2/v1/certs"
    # Let `serve` run without authentication on a non-loopback address.
    allow_unauthenticated: bool = False
    # Redis URL of a pixel cache shared by workers and replicas (unset: in-process cache).
    redis_url: str | None = None
    # Prefix of the cache's Redis keys (several deployments may share one Redis).
    redis_key_prefix: str = "dicom-resolver:"
    # QIDO-RS page size when the request sets no limit, and the largest honoured limit.
    qido_default_limit: int = 100
    qido_max_limit: int = 1000
    # Origins allowed to call /dicomweb from a browser (CORS; "*" for any, empty: none).
    dicomweb_cors_origins: tuple[str, ...] = ()
    # Bytes of WADO-RS metadata answers kept per worker, keyed by ETag (0: no cache).
    dicomweb_metadata_cache_bytes: int = 64 * 1024 * 1024
    # Slices of a series volume fetched at once (and held in memory while streaming).
    volume_fetch_concurrency: int = 16
    # Instances of a WADO-RS study/series retrieve fetched at once (and held while streaming).
    retrieve_fetch_concurrency: int = 8
    # Public root URL of the service for RetrieveURL and BulkDataURIs (default: the request's).
    public_base_url: str | None = None
    # Build those URLs from X-Forwarded-Proto/Host/Port (only behind a proxy that sets them).
    trust_forwarded_headers: bool = False

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> Settings:
        """Defaults, then DICOM_RESOLVER_* variables of `environ`, then `overrides`."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(PREFIX + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = _coerce(field, raw)
        values.update(overrides)
        return cls(**values)


def _coerce(field: dataclasses.Field, raw: str) -> Any:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if raw.strip().lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind.startswith("tuple"):
            return tuple(item.strip() for item in raw.split(",") if item.strip())
    except ValueError as exc:
        raise ValueError(f"{PREFIX}{field.name.upper()} is not a valid {kind}") from exc
    return raw
