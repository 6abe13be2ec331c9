"""WADO-RS retrieve of DICOM objects: GET …/studies/{s}[/series/{r}[/instances/{i}]] (PS3.18 §10.4).

multipart/related; type="application/dicom", one Part 10 file per part, streamed
as the use case (service.usecases.dicomweb.retrieve) hands them out. The answer is
negotiated and the first window fetched before the status line goes out, so
those failures are problem bodies; a failure later aborts the connection (the
client sees a truncated multipart body, never a wrong file).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from flask import Response, request

from service.api import bulkdata_client, engine, params, settings
from service.api.dicomweb import blueprint
from service.api.negotiation import PATIENT_DATA_HEADERS
from service.dicomweb import wado_accept
from service.dicomweb.multipart_writer import new_boundary
from service.errors import NotAcceptable
from service.usecases.dicomweb.retrieve import open_retrieve
from service.usecases.dicomweb.types import RetrievedInstance, RetrieveQuery

log = logging.getLogger(__name__)


@blueprint.get("/studies/<study>")
def retrieve_study(study: str) -> Response:
    return _retrieve(*params.levels(study))


@blueprint.get("/studies/<study>/series/<series>")
def retrieve_series(study: str, series: str) -> Response:
    return _retrieve(*params.levels(study, series))


@blueprint.get("/studies/<study>/series/<series>/instances/<instance>")
def retrieve_instance(study: str, series: str, instance: str) -> Response:
    return _retrieve(*params.levels(study, series, instance))


def _retrieve(study_uid: str, series_uid: str | None = None,
              sop_uid: str | None = None) -> Response:
    try:
        syntax = wado_accept.choose_instances(request.headers.get("Accept"))
    except wado_accept.NotAcceptableError as exc:
        raise NotAcceptable(f"DICOM objects can be sent as {exc}.",
                            available=list(wado_accept.INSTANCE_REPRESENTATIONS)) from exc
    query = RetrieveQuery(study_uid, series_uid, sop_uid, syntax)
    config = settings()
    instances = open_retrieve(engine(), bulkdata_client(), query,
                              window=config.retrieve_fetch_concurrency,
                              transcode_upstream=config.transcode_upstream)
    boundary = new_boundary()
    response = Response(_parts(instances, boundary, query), direct_passthrough=True,
                        content_type=f'multipart/related; type="{wado_accept.DICOM}"; '
                                     f"boundary={boundary}")
    response.call_on_close(instances.close)  # also when the body is never iterated (HEAD)
    response.headers["Content-Location"] = request.base_url
    response.headers.update(PATIENT_DATA_HEADERS)
    return response


def _parts(instances: Iterable[RetrievedInstance], boundary: str,
           query: RetrieveQuery) -> Iterator[bytes]:
    """Each instance as one part; a failure mid-stream is logged and re-raised, so the
    server drops the connection instead of ending the body as if it were complete."""
    marker = f"--{boundary}".encode()
    try:
        for instance in instances:
            if marker in instance.data:  # 128 random bits: never seen, but never corrupt
                raise RuntimeError(f"the multipart boundary occurs in {instance.sop_uid}")
            yield (marker + b"\r\nContent-Type: " + wado_accept.DICOM.encode()
                   + b"; transfer-syntax=" + instance.transfer_syntax_uid.encode()
                   + b"\r\n\r\n")
            yield instance.data
            yield b"\r\n"
        yield marker + b"--\r\n"
    except Exception:
        log.error("retrieve of %s aborted mid-stream; the connection is closed",
                  query.sop_uid or query.series_uid or query.study_uid)
        raise
