"""gunicorn's access log, one line per request, without gunicorn's per-request atoms.

gunicorn's Logger.access builds ~20 atoms for every request before formatting one line
(the date, the user from a base64-decoded Authorization header, every request and
response header, the environ), and observability.JsonFormatter then read 7 of them back.
This logger (gunicorn.conf.py: logger_class) hands those 7 fields to the record
directly: the JSON line keeps its fields (remote, method, path, status, bytes,
duration_ms, request_id: never the query string, where patient names and IDs travel),
the text line its format. It stays gunicorn's line, not the app's, so that it still
counts the bytes actually sent and the time to the last one, and still covers the
requests gunicorn answers itself (400, 414, 431).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from gunicorn.glogging import Logger

from service.observability import REQUEST_ID_HEADER

# The text line, as gunicorn's access_log_format of this project wrote it.
TEXT_FORMAT = '%s "%s %s" %s %s %sms'
_REQUEST_ID = REQUEST_ID_HEADER.lower()


class AccessLogger(Logger):
    """gunicorn's Logger with a cheaper `access`; everything else is gunicorn's."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any],
               request_time: dt.timedelta) -> None:
        if not self.access_log_enabled or not self.access_log.isEnabledFor(logging.INFO):
            return
        status = resp.status
        if isinstance(status, str):  # "200 OK"
            status = status.split(None, 1)[0]
        request_id = None
        for name, value in resp.headers:
            if name.lower() == _REQUEST_ID:
                request_id = value
                break
        fields = {"remote": environ.get("REMOTE_ADDR"), "method": environ.get("REQUEST_METHOD"),
                  "path": environ.get("PATH_INFO"), "status": int(status),
                  "bytes": getattr(resp, "sent", None),
                  "duration_ms": request_time.seconds * 1000 + request_time.microseconds // 1000,
                  "request_id": request_id}
        try:
            self.access_log.info(TEXT_FORMAT, fields["remote"] or "-", fields["method"],
                                 fields["path"], fields["status"],
                                 "-" if fields["bytes"] is None else fields["bytes"],
                                 fields["duration_ms"], extra={"access": fields})
        except Exception:  # noqa: BLE001 - as gunicorn: a log line must not fail a request
            self.error("access log line failed")
