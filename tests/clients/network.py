"""What a page asked for and what it got, from Chromium's performance (DevTools) log.

The driver must be started with goog:loggingPrefs {"performance": "ALL"}. Each call of
`requests_since_last_call` drains the log, so a test reads only its own page's traffic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Request:
    url: str
    method: str
    status: int | None = None  # None: no response (failed, canceled, or still running)
    error: str | None = None  # Chromium's net:: error text when loading failed
    canceled: bool = False  # the page itself gave up on it (navigation, aborted fetch)
    cors_error: str | None = None

    @property
    def failed(self) -> bool:
        """Answered with an HTTP error, or lost for a reason other than the page's own cancel."""
        if self.status is not None and self.status >= 400:
            return True
        return self.error is not None and not self.canceled

    def __str__(self) -> str:
        outcome = self.status if self.error is None else f"{self.error} (cors: {self.cors_error})"
        return f"{self.method} {self.url} → {outcome}"


def requests_since_last_call(driver: Any, prefixes: tuple[str, ...]) -> list[Request]:
    """The HTTP requests to URLs starting with one of `prefixes`, in the order sent
    (Chromium's own background traffic is not the page's and is left out)."""
    by_id: dict[str, Request] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message["method"], message.get("params", {})
        request_id = params.get("requestId")
        if method == "Network.requestWillBeSent":
            sent = params["request"]
            if sent["url"].startswith(prefixes):
                # A redirect reuses the id: the latest hop is what the page ends with.
                by_id[request_id] = Request(sent["url"], sent["method"])
        elif request_id not in by_id:
            continue
        elif method == "Network.responseReceived":
            by_id[request_id].status = params["response"]["status"]
        elif method == "Network.loadingFailed":
            found = by_id[request_id]
            found.error = params.get("errorText")
            found.canceled = bool(params.get("canceled"))
            found.cors_error = (params.get("corsErrorStatus") or {}).get("corsError")
    return list(by_id.values())
