"""HTTP under the client: credentials on each request, retries on 429/503, problems raised.

Retried: 429 and 503 answers (waiting what Retry-After says, seconds or an HTTP date,
else an exponential backoff), and for GET requests a refused or broken connection.
Everything else is answered at once: a 4xx will not get better by asking again.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from .errors import TransportError, problem_from

RETRIED_STATUSES = frozenset({429, 503})


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Credentials:
    """Supplies the Authorization header of each request (None: send none)."""

    def header(self) -> str | None:
        return None


class ApiKey(Credentials):
    """A key of DICOM_RESOLVER_API_KEYS, sent as a bearer token."""

    def __init__(self, key: str) -> None:
        self._key = key

    def header(self) -> str:
        return f"Bearer {self._key}"


class GoogleIdToken(Credentials):
    """Google-signed ID tokens for `audience` (DICOM_RESOLVER_AUTH=google-id-token).

    google-auth is imported only here, so the client needs it only when asked for
    (`pip install "dicom-resolver-client[google]"`). Without explicit `credentials`,
    google-auth finds them: a service-account key in GOOGLE_APPLICATION_CREDENTIALS or
    the metadata server on Google Cloud. Tokens are refreshed before they expire.
    """

    def __init__(self, audience: str, credentials: Any = None) -> None:
        try:
            import google.auth.transport.requests as google_requests
            from google.oauth2 import id_token
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("Google ID tokens need google-auth: "
                              'pip install "dicom-resolver-client[google]"') from exc
        self._request = google_requests.Request()
        self._credentials = credentials if credentials is not None else \
            id_token.fetch_id_token_credentials(  # type: ignore[no-untyped-call]
                audience, request=self._request)

    def header(self) -> str:
        if not self._credentials.valid:
            self._credentials.refresh(self._request)
        return f"Bearer {self._credentials.token}"


class Transport:
    """One requests session, credentials, timeouts and the retry policy."""

    def __init__(self, base_url: str, *, session: requests.Session | None = None,
                 credentials: Credentials | None = None, timeout: float | tuple[float, float],
                 max_retries: int = 4, max_wait: float = 30.0, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session if session is not None else requests.Session()
        self._owns_session = session is None
        self.credentials = credentials or Credentials()
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.backoff = backoff
        self.sleep = sleep

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, data: bytes | None = None,
                stream: bool = False) -> requests.Response:
        """The answer of a 2xx status; ProblemError for an error answer (after retries)."""
        url = self.base_url + path
        attempt = 0
        while True:
            sent = dict(headers or {})
            authorization = self.credentials.header()
            if authorization:
                sent["Authorization"] = authorization
            try:
                response = self.session.request(method, url, params=params, headers=sent,
                                                data=data, stream=stream, timeout=self.timeout)
            except requests.ConnectionError as exc:
                if method != "GET" or attempt >= self.max_retries:
                    raise TransportError(f"{method} {path}: {type(exc).__name__}") from exc
                self.sleep(self._backoff(attempt))
                attempt += 1
                continue
            except requests.RequestException as exc:
                raise TransportError(f"{method} {path}: {type(exc).__name__}") from exc
            if response.status_code < 400:
                return response
            if response.status_code in RETRIED_STATUSES and attempt < self.max_retries:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                response.close()
                self.sleep(min(self.max_wait, wait if wait is not None else
                               self._backoff(attempt)))
                attempt += 1
                continue
            raise self._problem(response)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_wait, self.backoff * 2 ** attempt))

    @staticmethod
    def _problem(response: requests.Response) -> Exception:
        try:
            document = response.json()
        except ValueError:
            document = None
        finally:
            response.close()
        return problem_from(response.status_code, response.reason or "", document)
