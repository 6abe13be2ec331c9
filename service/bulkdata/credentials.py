"""Google credentials for the bulk-data client: resolved lazily, refreshed one thread at a time.

google-auth's credentials refresh without any locking, so several request
threads finding an expired token would each ask the token endpoint. The
wrapper here serializes `before_request` and `refresh`, so concurrent requests
refresh once and then share the new token.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import google.auth
import google.auth.exceptions
from google.auth.credentials import Credentials

from service.errors import ServiceUnavailable

log = logging.getLogger(__name__)

HEALTHCARE_SCOPE = "https://www.googleapis.com/auth/cloud-healthcare"


def default_credentials() -> Credentials:
    """Application Default Credentials with the Healthcare scope, or 503 when none exist."""
    try:
        credentials, project = google.auth.default(scopes=[HEALTHCARE_SCOPE])
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise ServiceUnavailable(
            "No Google credentials are configured, so pixel data cannot be fetched: set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file or run "
            "`gcloud auth application-default login`. Metadata endpoints keep working.",
            reason="no-credentials",
        ) from exc
    log.info("using application default credentials (%s, project %s)",
             type(credentials).__name__, project or "unknown")
    return credentials


class SerializedCredentials(Credentials):
    """Wraps credentials so that refreshes never run concurrently."""

    def __init__(self, inner: Credentials) -> None:
        super().__init__()
        self._inner = inner
        self._lock = threading.RLock()

    @property
    def inner(self) -> Credentials:
        return self._inner

    @property
    def token(self) -> Any:
        return self._inner.token

    @token.setter
    def token(self, value: Any) -> None:  # Credentials.__init__ assigns it
        pass

    @property
    def expiry(self) -> Any:
        return self._inner.expiry

    @expiry.setter
    def expiry(self, value: Any) -> None:
        pass

    @property
    def valid(self) -> bool:
        return bool(self._inner.valid)

    @property
    def expired(self) -> bool:
        return bool(self._inner.expired)

    @property
    def quota_project_id(self) -> Any:
        return getattr(self._inner, "quota_project_id", None)

    @property
    def universe_domain(self) -> Any:
        return getattr(self._inner, "universe_domain", "googleapis.com")

    def refresh(self, request: Any) -> None:
        with self._lock:
            self._refresh_locked(request)

    def before_request(self, request: Any, method: str, url: str, headers: Any) -> None:
        # The whole check-refresh-apply sequence runs under the lock: a thread
        # that waited while another refreshed sees a valid token and skips.
        with self._lock:
            try:
                self._inner.before_request(request, method, url, headers)
            except google.auth.exceptions.GoogleAuthError as exc:
                raise _refresh_failed(exc) from exc

    def refresh_if_current(self, request: Any, rejected_token: str | None) -> None:
        """Refresh after a 401, unless another thread already replaced the rejected token."""
        with self._lock:
            if self._inner.token == rejected_token:
                self._refresh_locked(request)

    def _refresh_locked(self, request: Any) -> None:
        try:
            self._inner.refresh(request)
        except google.auth.exceptions.GoogleAuthError as exc:
            raise _refresh_failed(exc) from exc
        log.debug("access token refreshed (%s)", type(self._inner).__name__)


def _refresh_failed(exc: Exception) -> ServiceUnavailable:
    # The exception text may quote the token endpoint's answer; keep only its type.
    log.warning("access token refresh failed: %s", type(exc).__name__)
    return ServiceUnavailable(
        "Google credentials could not be refreshed (the token endpoint refused or was "
        f"unreachable: {type(exc).__name__}); check the service-account key and its access.",
        reason="token-refresh-failed",
    )
