"""Fault injection for the emulator: planned misbehaviour to test clients against.

A fault matches requests whose path contains `path_substring` (any DICOMweb
route when None; the token endpoint only when named explicitly) and fires
`count` times. An error status replaces the answer; a 2xx/None status keeps
the real answer and alters it (truncated, another content type or body, gzip).
"""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass

from werkzeug.wrappers import Response


@dataclass
class Fault:
    path_substring: str | None = None
    status: int | None = 429
    retry_after: int | str | None = None
    count: int = 1
    delay: float = 0.0
    truncate: bool = False
    content_type: str | None = None
    body: bytes | None = None
    gzip: bool = False
    location: str | None = None

    @property
    def replaces_answer(self) -> bool:
        return self.status is not None and not 200 <= self.status < 300

    def matches(self, path: str, token_endpoint: bool) -> bool:
        if self.path_substring is None:
            return not token_endpoint
        return self.path_substring in path

    def alter(self, response: Response) -> Response:
        """Apply the non-status parts of the fault to a real answer."""
        body = self.body if self.body is not None else response.get_data()
        if self.truncate:
            # A well-formed HTTP message whose multipart body stops half-way.
            body = body[: len(body) // 2]
        if self.content_type is not None:
            response.headers["Content-Type"] = self.content_type
        if self.gzip:
            body = gzip.compress(body)
            response.headers["Content-Encoding"] = "gzip"
        response.set_data(body)
        return response


class FaultPlan:
    """Thread-safe list of pending faults, consumed first-match-first."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(fault.count for fault in self._faults)

    def take(self, path: str, *, token_endpoint: bool = False) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.count > 0 and fault.matches(path, token_endpoint):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    break
            else:
                return None
        if fault.delay:
            time.sleep(fault.delay)
        return fault
