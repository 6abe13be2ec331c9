"""Caller authentication: DICOM_RESOLVER_AUTH = none | api-key | google-id-token.

Callers send `Authorization: Bearer <secret>`. With `api-key` the secret is one of the
configured keys (compared in constant time, over SHA-256 digests so that neither the
length nor a prefix of a key leaks through timing). With `google-id-token` it is an ID
token signed by Google for the configured audience — what Cloud Run, GKE Workload
Identity and `gcloud auth print-identity-token` hand a service account — optionally
limited to a list of service-account emails.

Health checks, /metrics, the OpenAPI document and the explorer's static files stay
open; everything else answers 401 (no or bad credentials) or 403 (a caller not
allowed) as problem bodies with a WWW-Authenticate header (RFC 6750). Neither the
secret nor the token is ever logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from pathlib import Path
from typing import Any, Protocol

import requests
from flask import Flask, current_app, g, request

from service.errors import Forbidden, Unauthorized
from service.settings import Settings

log = logging.getLogger(__name__)

MODES = ("none", "api-key", "google-id-token")
REALM = "dicom-resolver"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
OPEN_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "spec.openapi_document",
                            "observability.metrics_endpoint",
                            # Pub/Sub pushes its own Google OIDC token, verified by the
                            # endpoint against DICOM_RESOLVER_PUBSUB_AUDIENCE.
                            "notifications.pubsub_push"})
OPEN_BLUEPRINTS = frozenset({"explorer"})  # a static page; its data comes through the API
CERTS_MAX_AGE = 3600.0  # seconds Google's signing certificates are kept at most


class ConfigurationError(Exception):
    """Authentication is misconfigured; the service refuses to start."""


class Authenticator(Protocol):
    def authenticate(self, token: str) -> str:
        """The caller's name, fit to log; raises Unauthorized or Forbidden."""


class ApiKeys:
    """Static keys, from the settings and/or a file (one per line, # comments)."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigurationError("DICOM_RESOLVER_AUTH=api-key needs DICOM_RESOLVER_API_KEYS "
                                     "or DICOM_RESOLVER_API_KEYS_FILE")
        self._digests = [hashlib.sha256(key.encode()).digest() for key in keys]

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiKeys:
        keys = list(settings.api_keys)
        if settings.api_keys_file:
            try:
                lines = Path(settings.api_keys_file).read_text().splitlines()
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read DICOM_RESOLVER_API_KEYS_FILE: {exc.strerror}") from exc
            keys += [line.strip() for line in lines
                     if line.strip() and not line.lstrip().startswith("#")]
        return cls(keys)

    def authenticate(self, token: str) -> str:
        digest = hashlib.sha256(token.encode()).digest()
        matched = False
        for known in self._digests:  # no early exit: every key is compared
            matched |= hmac.compare_digest(known, digest)
        if not matched:
            raise _invalid("the API key is not valid")
        return f"api-key:{digest.hex()[:8]}"


class GoogleIdTokens:
    """Google-signed ID tokens (google.oauth2.id_token.verify_token) for one audience."""

    def __init__(self, audience: str | None, allowed_emails: tuple[str, ...], certs_url: str,
                 session: requests.Session | None = None) -> None:
        if not audience:
            raise ConfigurationError("DICOM_RESOLVER_AUTH=google-id-token needs "
                                     "DICOM_RESOLVER_AUTH_AUDIENCE (the service's URL)")
        from google.auth.transport.requests import Request

        self.audience = audience
        self.allowed = frozenset(email.lower() for email in allowed_emails)
        self.certs_url = certs_url
        self._request = Request(_CertsCache(session or requests.Session(), certs_url))

    def authenticate(self, token: str) -> str:
        from google.auth import exceptions
        from google.oauth2 import id_token

        try:
            claims = id_token.verify_token(token, self._request, audience=self.audience,
                                           certs_url=self.certs_url)
        except (ValueError, exceptions.GoogleAuthError) as exc:
            # google-auth's messages may quote the token (or its segments): say only which
            # check failed.
            raise _invalid(_reason(str(exc))) from None
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise _invalid("the ID token was not issued by Google")
        email = str(claims.get("email", "")).lower()
        if self.allowed and (email not in self.allowed or not claims.get("email_verified")):
            raise Forbidden("this caller is not allowed to use the service",
                            headers={"WWW-Authenticate": f'Bearer realm="{REALM}", '
                                                         'error="insufficient_scope"'})
        return email or f"sub:{claims.get('sub')}"


def _reason(message: str) -> str:
    lowered = message.lower()
    for words, reason in (("expired", "the ID token has expired"),
                          ("too early", "the ID token is not valid yet"),
                          ("audience", "the ID token is for another audience"),
                          ("signature", "the ID token's signature does not verify"),
                          ("certificate", "the ID token's signing key is unknown")):
        if words in lowered:
            return reason
    return "the ID token is malformed or not valid"


class _CertsCache(requests.Session):
    """A session that keeps Google's certificates (they change daily) instead of fetching
    them for every request; everything else passes through."""

    def __init__(self, inner: requests.Session, url: str) -> None:
        super().__init__()
        self._inner = inner
        self._url = url
        self._cached: tuple[float, requests.Response] | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        if method.upper() != "GET" or url != self._url:
            return self._inner.request(method, url, *args, **kwargs)
        now = time.monotonic()
        if self._cached is not None and self._cached[0] > now:
            return self._cached[1]
        response = self._inner.request(method, url, *args, **kwargs)
        if response.status_code == 200:
            self._cached = (now + CERTS_MAX_AGE, response)
        return response


def _invalid(description: str) -> Unauthorized:
    challenge = f'Bearer realm="{REALM}", error="invalid_token", ' \
                f'error_description="{description.replace(chr(34), chr(39))}"'
    return Unauthorized(description, headers={"WWW-Authenticate": challenge})


def make_authenticator(settings: Settings) -> Authenticator | None:
    """The authenticator of the settings (None for `none`); ConfigurationError if unusable."""
    if settings.auth not in MODES:
        raise ConfigurationError(f"DICOM_RESOLVER_AUTH must be one of {', '.join(MODES)}")
    if settings.auth == "api-key":
        return ApiKeys.from_settings(settings)
    if settings.auth == "google-id-token":
        return GoogleIdTokens(settings.auth_audience, settings.auth_allowed_emails,
                              settings.auth_certs_url)
    return None


def init_app(app: Flask, authenticator: Authenticator | None) -> None:
    """Require credentials on every request but the open ones (None: authentication off)."""
    if authenticator is None:
        return
    app.extensions["authenticator"] = authenticator
    app.before_request(_authenticate)


def _authenticate() -> None:
    endpoint = request.endpoint or ""
    if request.method == "OPTIONS" or endpoint in OPEN_ENDPOINTS \
            or endpoint.partition(".")[0] in OPEN_BLUEPRINTS:
        return  # CORS preflights carry no credentials; open endpoints need none
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send credentials as 'Authorization: Bearer …'",
                           headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})
    g.principal = current_app.extensions["authenticator"].authenticate(token.strip())


def is_loopback(bind: str) -> bool:
    """Whether a gunicorn bind ("host:port", "[::1]:port", "unix:…") is reachable only
    from this machine."""
    if bind.startswith(("unix:", "fd://")):
        return True
    host = bind.rsplit(":", 1)[0] if bind.count(":") == 1 or bind.startswith("[") else bind
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


def check_exposure(settings: Settings, binds: list[str]) -> None:
    """Refuse to serve without authentication on an address others can reach."""
    exposed = [bind for bind in binds if not is_loopback(bind)]
    if settings.auth == "none" and exposed and not settings.allow_unauthenticated:
        raise ConfigurationError(
            f"refusing to serve without authentication on {', '.join(exposed)}: set "
            "DICOM_RESOLVER_AUTH=api-key or google-id-token, bind to 127.0.0.1, or set "
            "DICOM_RESOLVER_ALLOW_UNAUTHENTICATED=true if something in front authenticates")
