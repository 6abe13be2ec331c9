"""One GET against the Healthcare API: timeouts, bounded retries, and upstream errors as problems.

Retryable: 429, 500, 502, 503, 504 and connection failures, with exponential
backoff and jitter (honouring Retry-After, in seconds or as an HTTP date),
bounded by a retry count and a total time budget. A 401 triggers one token
refresh. Every other failure becomes a ServiceError naming the upstream
status; nothing upstream surfaces as a bare 500, and no token is ever quoted.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
import requests
from requests.structures import CaseInsensitiveDict

from service.errors import NotFound, ServiceError, UpstreamError

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_MESSAGE = 300
# Transport failures worth another attempt (a body cut short raises ChunkedEncodingError).
_RETRYABLE_ERRORS = (requests.ConnectionError, requests.Timeout,
                     requests.exceptions.ChunkedEncodingError,
                     requests.exceptions.ContentDecodingError)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: retry count, total time budget, backoff base and cap (seconds)."""

    max_retries: int = 4
    budget_seconds: float = 30.0
    backoff_base: float = 0.5
    backoff_max: float = 8.0

    def backoff(self, attempt: int) -> float:
        # "Equal jitter": always wait at least half the exponential step, so
        # a missing Retry-After still backs off, while clients spread out.
        step = min(self.backoff_max, self.backoff_base * (2 ** attempt))
        return step / 2 + random.uniform(0, step / 2)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse Retry-After: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def summarize_google_error(response: requests.Response) -> dict[str, Any] | None:
    """Google's `{"error": {code, message, status}}` (maybe inside an array), capped."""
    try:
        body = orjson.loads(response.content[:65536])
    except (orjson.JSONDecodeError, ValueError):
        return None
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    message = str(error.get("message", ""))
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "…"
    return {"code": error.get("code"), "status": error.get("status"), "message": message}


def error_for_status(response: requests.Response, what: str) -> ServiceError:
    """The problem to raise for a final non-2xx upstream answer."""
    status = response.status_code
    summary = summarize_google_error(response)
    extra: dict[str, Any] = {"upstream_status": status}
    if summary:
        extra["upstream_error"] = summary
    if status == 404:
        return NotFound(f"The Healthcare API has no {what} (upstream 404).", **extra)
    if status == 403:
        return UpstreamError(
            f"The Healthcare API refused {what} with 403: the credentials are forbidden from "
            "reading this DICOM store, or the store or instance does not exist (Google answers "
            "403 for both: it does not reveal whether a resource it will not show exists).",
            **extra,
        )
    if status == 401:
        return UpstreamError(
            f"The Healthcare API rejected the access token for {what} (upstream 401), "
            "even after a refresh.", **extra)
    return UpstreamError(f"The Healthcare API failed to return {what} (upstream {status}).",
                         **extra)


class Getter(Protocol):
    """What Transport sends through: requests.Session's get, or DirectGet's."""

    def get(self, url: str, *, headers: Mapping[str, str], timeout: tuple[float, float],
            allow_redirects: bool) -> requests.Response: ...


class DirectGet:
    """GETs through a Session's mounted adapter and defaults, without its per-request work.

    requests.Session.get re-merges cookies, netrc auth, hooks and the environment's
    proxies and CA bundle on every call (and google-auth's AuthorizedSession wraps that
    again); for the one origin every fetch goes to, none of it changes. Here each GET
    prepares only its URL and headers (the session's defaults under the caller's, merged
    as Session does) and hands them to the adapter with the environment resolved once per
    origin, so proxies, TLS verification and requests' error translation are the adapter's
    as before. The token is attached by Transport's `authorize`. Cookies are neither kept
    nor sent: the Healthcare API authenticates by bearer token alone.
    """

    def __init__(self, session: requests.Session) -> None:
        self._session = session
        self._environment: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, url: str, *, headers: Mapping[str, str], timeout: tuple[float, float],
            allow_redirects: bool = False) -> requests.Response:
        if allow_redirects:  # the client follows redirects itself, each one judged first
            raise ValueError("DirectGet does not follow redirects")
        merged: CaseInsensitiveDict[str | bytes] = CaseInsensitiveDict(self._session.headers)
        merged.update(headers)
        request = requests.PreparedRequest()
        request.prepare(method="GET", url=url, headers=merged)
        prepared_url = str(request.url)
        environment = self._environment_for(prepared_url)
        return self._session.get_adapter(prepared_url).send(
            request, stream=False, timeout=timeout, verify=environment["verify"],
            cert=environment["cert"], proxies=environment["proxies"])

    def _environment_for(self, url: str) -> dict[str, Any]:
        origin = urlsplit(url)[:2]
        environment = self._environment.get(origin)
        if environment is None:
            environment = dict(self._session.merge_environment_settings(
                url, {}, None, None, None))
            self._environment[origin] = environment
        return environment


class Transport:
    """Sends GETs through a session with the retry policy; knows nothing of DICOM."""

    def __init__(self, session: Getter, policy: RetryPolicy,
                 timeout: tuple[float, float], *,
                 authorize: Callable[[str, dict[str, str]], None] | None = None,
                 on_unauthorized: Callable[[str | None], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._session = session
        self._policy = policy
        self._timeout = timeout
        self._authorize = authorize
        self._on_unauthorized = on_unauthorized
        self._sleep = sleep

    def get(self, url: str, headers: dict[str, str], what: str) -> requests.Response:
        """GET `url` (no redirects followed); return the final 2xx or 3xx response."""
        started = time.monotonic()
        deadline = started + self._policy.budget_seconds
        refreshed = False
        retries = 0
        while True:
            request_headers = dict(headers)
            if self._authorize is not None:
                self._authorize(url, request_headers)
            try:
                response = self._session.get(url, headers=request_headers,
                                             timeout=self._timeout, allow_redirects=False)
                status: int | None = response.status_code
            except _RETRYABLE_ERRORS as exc:
                response, status = None, None
                failure = f"{type(exc).__name__} talking to the Healthcare API"
            except requests.RequestException as exc:
                raise UpstreamError(f"The request for {what} could not be sent "
                                    f"({type(exc).__name__}).", upstream_status=None) from exc
            log.debug("GET %s -> %s (%.3fs)", url, status, time.monotonic() - started)
            if response is not None and status == 401 and not refreshed and self._on_unauthorized:
                refreshed = True
                self._on_unauthorized(_bearer(response.request.headers))
                response.close()
                continue
            if response is not None and status not in RETRYABLE_STATUSES:
                if status is not None and status >= 400:
                    raise error_for_status(response, what)
                return response
            delay = self._policy.backoff(retries)
            if response is not None:
                failure = f"upstream {status}"
                advised = retry_after_seconds(response.headers.get("Retry-After"))
                if advised is not None:
                    delay = max(delay, advised) if advised > 0 else delay
            if retries >= self._policy.max_retries or time.monotonic() + delay > deadline:
                log.warning("giving up on %s after %d retries: %s", what, retries, failure)
                if response is not None:
                    raise _exhausted(error_for_status(response, what), retries)
                raise UpstreamError(
                    f"The Healthcare API could not be reached for {what} after {retries} "
                    f"retries ({failure}).", upstream_status=None, retries=retries)
            if response is not None:
                response.close()
            retries += 1
            log.debug("retry %d for %s in %.2fs (%s)", retries, what, delay, failure)
            self._sleep(delay)


def _bearer(headers: Any) -> str | None:
    value = headers.get("Authorization") or ""
    return value[7:] if value.lower().startswith("bearer ") else None


def _exhausted(error: ServiceError, retries: int) -> ServiceError:
    error.extra["retries"] = retries
    return error
