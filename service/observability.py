"""Request ids, structured logs and Prometheus metrics.

- Every request gets an id: the caller's X-Request-ID when it is a sane token, else a
  new one; it is echoed in the response and carried by every log record of the request.
- Logs are JSON lines (JsonFormatter, installed by gunicorn.conf.py's logconfig_dict).
  Records hold what the code logged — UIDs, counts, statuses, timings — and the access
  log keeps the path but never the query string, where patient names and IDs travel.
- /metrics is Prometheus text: requests and latency by route *template* (never the raw
  URL with its UIDs), ingests, upstream fetches and the pixel cache. Under gunicorn the
  workers share counters through prometheus_client's multiprocess mode (gunicorn.conf.py
  sets its directory), so any worker answers for all of them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from flask import Blueprint, Flask, Response, current_app, g, has_request_context, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily

from service.log_safety import safe_traceback

if TYPE_CHECKING:
    from service.bulkdata.cache import PixelCache
    from service.bulkdata.client import PixelPayload

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a caller as a request id: short, no spaces or control characters
# (it is logged and echoed as a header). Anything else is replaced by a fresh id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]{0,127}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: metadata answers in milliseconds, volumes and cold pixel fetches in seconds.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# generate_latest writes the classic text format; say so (newer clients default to 1.0.0).
EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_INGEST_OUTCOMES = {200: "stored", 400: "invalid", 409: "conflict", 413: "too_large",
                    415: "unsupported_media_type"}

blueprint = Blueprint("observability", __name__)


class Metrics:
    """The service's metrics, registered in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("dicom_resolver_http_requests", "HTTP requests answered.",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("dicom_resolver_http_request_duration_seconds",
                                 "Time to the response headers, by route template.",
                                 ["method", "route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.dumps = Counter("dicom_resolver_ingest_dumps", "Dumps received, by outcome.",
                             ["outcome"], registry=r)
        self.instances = Counter("dicom_resolver_ingest_instances",
                                 "Instances of stored dumps: created, updated or unchanged.",
                                 ["result"], registry=r)
        self.upstream = Histogram("dicom_resolver_upstream_fetch_duration_seconds",
                                  "Pixel fetches from the Healthcare API (retries included).",
                                  ["outcome"], buckets=_LATENCY_BUCKETS, registry=r)
        self.upstream_errors = Counter("dicom_resolver_upstream_fetch_errors",
                                       "Failed pixel fetches, by error.", ["error"], registry=r)
        self.cache = Counter("dicom_resolver_pixel_cache_requests",
                             "Pixel payload lookups: hit (no upstream call) or miss.",
                             ["result"], registry=r)
        self.import_studies = Counter("dicom_resolver_import_studies",
                                      "Studies of imports worked: done, unchanged or failed.",
                                      ["outcome"], registry=r)
        self.import_instances = Counter("dicom_resolver_import_instances",
                                        "Instances ingested by imports.", registry=r)
        self.notifications = Counter(
            "dicom_resolver_notifications",
            "Pub/Sub push notifications: stored, duplicate, ignored, failed, or rejected "
            "(malformed, unknown_store, unauthenticated, forbidden).", ["outcome"], registry=r)
        # Gauges read at scrape time (e.g. the import queue, from the database).
        self.collectors: list[Any] = []
        # labels() children by (method, route, status): looked up once, not per request.
        self._by_request: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def request_metrics(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        """The request counter and latency histogram children of one method, route
        template and status (made at its first request, as labels() would)."""
        key = (method, route, status)
        children = self._by_request.get(key)
        if children is None:  # two threads may both make it: labels() returns the same
            children = self._by_request[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route))
        return children

    def count_import_study(self, outcome: str, instances: int) -> None:
        self.import_studies.labels(outcome).inc()
        self.import_instances.inc(instances)

    def count_ingested(self, created: int, updated: int, unchanged: int) -> None:
        """The instances of a stored dump, by what storing did to each."""
        self.instances.labels("created").inc(created)
        self.instances.labels("updated").inc(updated)
        self.instances.labels("unchanged").inc(unchanged)

    def count_notification(self, outcome: str) -> None:
        self.notifications.labels(outcome).inc()

    def render(self) -> bytes:
        """The exposition of every worker (multiprocess mode) or of this process."""
        if multiprocess_mode():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = self.registry
        text = generate_latest(registry)
        extra = b"".join(generate_latest(collector) for collector in self.collectors)
        return text + generate_latest(_HitRatio(registry)) + extra


class ImportQueue:
    """dicom_resolver_import_queue_studies: studies of imports queued or under way, read
    from the database (shared by every worker and replica) when /metrics is scraped."""

    def __init__(self, count: Callable[[], int]) -> None:
        self._count = count

    def collect(self) -> list[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("dicom_resolver_import_queue_studies",
                                  "Studies of imports queued or under way (all replicas).")
        try:
            gauge.add_metric([], float(self._count()))
        except Exception:  # noqa: BLE001 - a scrape must not fail because the store is down
            log.warning("import queue length unavailable")
            gauge.add_metric([], float("nan"))
        return [gauge]


class _HitRatio:
    """dicom_resolver_pixel_cache_hit_ratio, derived from the summed hit/miss counters."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> list[GaugeMetricFamily]:
        totals = {"hit": 0.0, "miss": 0.0}
        for family in self.source.collect():
            if family.name == "dicom_resolver_pixel_cache_requests":
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        totals[sample.labels["result"]] = totals.get(
                            sample.labels["result"], 0.0) + sample.value
        lookups = totals["hit"] + totals["miss"]
        ratio = GaugeMetricFamily("dicom_resolver_pixel_cache_hit_ratio",
                                  "Share of pixel lookups served without an upstream call "
                                  "since start (NaN before the first).")
        ratio.add_metric([], totals["hit"] / lookups if lookups else float("nan"))
        return [ratio]


def multiprocess_mode() -> bool:
    # prometheus_client picks its value class at import from PROMETHEUS_MULTIPROC_DIR,
    # which gunicorn.conf.py sets; ask the library rather than the environment.
    return values.ValueClass.__name__ != "MutexValue"


class MeteredCache:
    """A PixelCache that meters another: times the upstream fetches it runs and counts
    hits and misses. create_app builds it around the memory or Redis cache.

    Only a miss calls `fetch`, so the time spent in it is the upstream fetch's.
    """

    def __init__(self, inner: PixelCache, metrics: Metrics) -> None:
        self.inner = inner
        self._metrics = metrics

    def get_or_fetch(self, key: Hashable, fetch: Callable[[], PixelPayload]) -> PixelPayload:
        fetched = False

        def timed() -> PixelPayload:
            nonlocal fetched
            fetched = True
            started = time.perf_counter()
            try:
                result = fetch()
            except Exception as exc:
                self._metrics.upstream.labels("error").observe(time.perf_counter() - started)
                self._metrics.upstream_errors.labels(type(exc).__name__).inc()
                raise
            self._metrics.upstream.labels("ok").observe(time.perf_counter() - started)
            return result

        try:
            return self.inner.get_or_fetch(key, timed)
        finally:
            self._metrics.cache.labels("miss" if fetched else "hit").inc()

    def stats(self) -> Mapping[str, int | str]:
        return self.inner.stats()

    def clear(self) -> None:
        self.inner.clear()


def init_app(app: Flask, metrics: Metrics) -> None:
    """Request ids, metrics of every request and /metrics (`metrics`: the app's, built by
    create_app with the metered pixel cache)."""
    app.extensions["metrics"] = metrics
    app.before_request(_start)
    app.after_request(_finish)
    app.register_blueprint(blueprint)


def request_id_of(given: str) -> str:
    """The caller's request id when it is a sane token, else a new one (32 hex digits)."""
    return given if given and _REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


def _start() -> None:
    g.started = time.perf_counter()
    g.request_id = request_id_of(request.environ.get("HTTP_X_REQUEST_ID", ""))


def _finish(response: Response) -> Response:
    request_id = g.get("request_id") or request_id_of("")
    response.headers[REQUEST_ID_HEADER] = request_id
    metrics: Metrics = current_app.extensions["metrics"]
    rule = request.url_rule
    route = rule.rule if rule is not None else "unmatched"  # never the raw URL
    method = request.method if request.method in _METHODS else "OTHER"
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    count, latency = metrics.request_metrics(method, route, response.status_code)
    count.inc()
    latency.observe(elapsed)
    # Only a POST is an ingest: OPTIONS (and 405s) of the route answer no JSON. The
    # outcome of every POST is counted here, by status (errors are raised anywhere on
    # the way); the stored instances by the view itself (Metrics.count_ingested).
    if rule is not None and rule.endpoint == "dumps.post_dump" and request.method == "POST":
        metrics.dumps.labels(_INGEST_OUTCOMES.get(response.status_code, "error")).inc()
    return response


@blueprint.get("/metrics")
def metrics_endpoint() -> Response:
    return Response(current_app.extensions["metrics"].render(), mimetype=None,
                    content_type=EXPOSITION_TYPE)


# -- logging -----------------------------------------------------------------------------

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "request_id"}
# Fields of gunicorn's own access record (its atoms; service.front.access_log passes
# them ready) that go into the JSON line. Never "q", "r" or "{raw_uri}": the query
# string carries patient names and IDs.
_ACCESS_FIELDS = {"h": "remote", "m": "method", "U": "path", "s": "status",
                  "B": "bytes", "M": "duration_ms", "{x-request-id}o": "request_id"}


class RequestIdFilter(logging.Filter):
    """Adds the current request's id (or None outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
        }
        access = getattr(record, "access", None)  # service.front.access_log's fields
        if access is not None:
            entry["message"] = "request"
            entry.update({name: value for name, value in access.items() if value is not None})
        elif record.name == "gunicorn.access" and isinstance(record.args, dict):
            entry["message"] = "request"
            for atom, name in _ACCESS_FIELDS.items():
                value = record.args.get(atom)
                if value not in (None, "-"):
                    entry[name] = int(value) if name in ("status", "bytes",
                                                         "duration_ms") else value
        else:
            entry["message"] = record.getMessage()
            request_id = getattr(record, "request_id", None)
            if request_id:
                entry["request_id"] = request_id
            entry.update({key: value for key, value in record.__dict__.items()
                          if key not in _STANDARD and not key.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()

    def formatException(self, ei: Any) -> str:  # noqa: N802  (logging passes its exc_info)
        return safe_traceback(ei)  # frames and types: messages may quote patient data


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """A logging.config.dictConfig for gunicorn (its logconfig_dict): one stderr handler
    for the service's, gunicorn's and every other logger, JSON or plain text."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if log_format == "json" else
        {"()": "service.log_safety.SafeFormatter",
         "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"})
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
               "formatter": "main", "filters": ["request_id", "redact"]}
    quiet = {"handlers": ["stderr"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"},
                    "redact": {"()": "service.log_safety.RedactingFilter"}},
        "formatters": {"main": formatter},
        "handlers": {"stderr": handler},
        "loggers": {
            "service": {**quiet, "level": level.upper()},
            "gunicorn.error": {**quiet, "level": "INFO"},
            "gunicorn.access": {**quiet, "level": "INFO"},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
