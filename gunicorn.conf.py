"""gunicorn settings of dicom-resolver: `make run`, the Docker image and the tests use it.

Read by `dicom-resolver serve` from the working directory (flags override it) and by
`gunicorn -c gunicorn.conf.py 'service:create_app()'`. The bind address comes from
DICOM_RESOLVER_HOST/PORT through the command; everything else about serving is here.
"""

import os
import shutil
import tempfile

# /metrics aggregates every worker: prometheus_client's multiprocess mode keeps counters
# in files under one directory per master. The library reads the directory when it is
# first imported, so it is set before anything imports it (service.observability does).
_own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="dicom-resolver-metrics-")

from service import gunicorn_errors  # noqa: E402
from service.observability import logging_config  # noqa: E402
from service.settings import Settings  # noqa: E402

_settings = Settings.load()
_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

# Workers from the cores this process may use: 2 per core + 1, capped at 8 because each
# worker may hold a decoded volume (hundreds of MB) while it streams it. Threads let one
# worker overlap requests waiting on Google or the database. Measured (#13, 2 cores, wrk
# 8 connections on /healthz and a QIDO study search): 2–5 workers × 1–4 threads cost the
# same server CPU per request within the noise of the machine, and fewer workers served
# fewer requests per second; the slow-client protection does not depend on either figure
# (requests are read whole in the event loop before a thread takes them).
workers = min(2 * (_cores or 1) + 1, 8)
# gunicorn's gthread, but each request is read whole in the worker's event loop before a
# thread serves it, under DICOM_RESOLVER_REQUEST_READ_TIMEOUT (408 after it): slow or
# idle clients hold a socket, never a thread (see service/front/worker.py).
worker_class = "service.front.worker.BufferingThreadWorker"
threads = 4
# A gthread worker heartbeats from its main loop, so `timeout` only catches a worker that
# is stuck, not a long volume download; still generous for slow pixel fetches.
timeout = 300
# On SIGTERM (Cloud Run, Kubernetes) stop accepting, finish in-flight requests for up to
# 25 s (inside Kubernetes' default 30 s grace period), then exit.
graceful_timeout = 25
# Longer than the idle timeout of the load balancer in front (60 s on most) so that it,
# not gunicorn, closes idle connections: no request lost on a half-closed socket.
keepalive = 75
# Recycle workers now and then (jittered so that they do not restart together).
max_requests = 5000
max_requests_jitter = 500
# Request line and header limits: DICOMweb query strings can be long, not unbounded.
# gunicorn refuses what exceeds them itself (414, 431) before the app runs; install()
# makes those answers problem+json like every other error (service/gunicorn_errors.py).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
gunicorn_errors.install()
# Logs: JSON lines on stderr (service.observability), one access line per request
# without the query string, where patient names and IDs travel. AccessLogger writes the
# fields of access_log_format without gunicorn's costly per-request atoms.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
logger_class = "service.front.access_log.AccessLogger"
logconfig_dict = logging_config(_settings.log_level, _settings.log_format)
proc_name = "dicom-resolver"
# gunicorn >= 24 opens a control socket at one per-user path: two servers on a host would
# fight over it, and nothing here uses runtime management.
control_socket_disable = True
# X-Forwarded-Proto (and gunicorn's other secure-scheme headers) may change the request's
# scheme only when the operator says a proxy sets them (DICOM_RESOLVER_TRUST_FORWARDED_HEADERS);
# gunicorn would otherwise trust them from any loopback client.
forwarded_allow_ips = "*" if _settings.trust_forwarded_headers else ""
# Workers are forked from a master that has not imported the application: each opens
# its own database pool and HTTP sessions.
preload_app = False


def child_exit(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # noqa: ARG001
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_worker_init(worker):  # noqa: ARG001 - gunicorn's hook signature
    # What the loaded application holds (modules, pydicom's dictionaries, the OpenAPI
    # document: ~260,000 objects) lives as long as the worker. Frozen out of the
    # collector's sight, full collections, which a large ingest triggers, walk only
    # what requests allocate (about 8% of a 300-instance POST /v1/dumps).
    import gc

    gc.freeze()
