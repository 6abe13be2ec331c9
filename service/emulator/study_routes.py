"""The emulator's study-level DICOMweb routes: QIDO-RS searches and WADO-RS metadata.

    GET /v1/{store}/dicomWeb/studies                                   search for studies
    GET /v1/{store}/dicomWeb/studies/{st}/series                       search for series
    GET /v1/{store}/dicomWeb/studies/{st}[/series/{se}]/instances      search for instances
    GET /v1/{store}/dicomWeb/studies/{st}[/series/{se}]/metadata       metadata (a dump)

Metadata is Google's JSON (dicomstore.metadata_json), one rendering per file kept while
the file is unchanged, so that a study's answer costs the emulator a join, not a parse
per instance per request.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

import orjson
from werkzeug.wrappers import Request, Response

from service.emulator import dicomstore, search, wire
from service.emulator.dicomstore import InstanceKey

if TYPE_CHECKING:
    from service.emulator.app import EmulatorApp

_ROUTE = re.compile(
    r"^/v1/(?P<store>projects/[^/]+/locations/[^/]+/datasets/[^/]+/dicomStores/[^/]+)"
    r"/dicomWeb/studies(?:/(?P<study>[^/]+)(?:/series(?:/(?P<series>[^/]+))?)?"
    r"(?:/(?P<leaf>instances|metadata))?)?$")
DICOM_JSON = "application/dicom+json"


class MetadataRenderings:
    """Google JSON bytes of each instance, keyed by instance and file modification time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[InstanceKey, tuple[int, bytes]] = {}

    def get(self, app: EmulatorApp, key: InstanceKey) -> bytes | None:
        stamp = app.folder.stamp(key)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        ds = app.folder.read(key)
        if ds is None or stamp is None:
            return None
        rendered = orjson.dumps(dicomstore.metadata_json(ds, instance_url(app, key)))
        with self._lock:
            self._cache[key] = (stamp, rendered)
        return rendered


def instance_url(app: EmulatorApp, key: InstanceKey) -> str:
    from service.emulator.app import GOOGLE_ROOT

    return (f"{GOOGLE_ROOT}/v1/{app.store_path}/dicomWeb/studies/{key.study_uid}"
            f"/series/{key.series_uid}/instances/{key.sop_uid}")


def answer(app: EmulatorApp, request: Request) -> Response | None:
    """The answer of a study-level route, or None when the path is not one of them."""
    match = _ROUTE.match(request.path)
    if match is None or (match["series"] is not None and match["leaf"] is None
                         and not request.path.endswith("/series")):
        return None
    if request.method != "GET":
        return _error(405, "Only GET is emulated.")
    if match["store"] != app.store_path:
        return _error(403, "Permission 'healthcare.dicomStores.dicomWebSearch' denied on "
                           f"resource '{match['store']}' (or it may not exist).")
    study, series, leaf = match["study"], match["series"], match["leaf"]
    if leaf == "metadata" and study is not None:
        return _metadata(app, study, series)
    params = {key: value for key, value in request.args.items()}
    index = app.folder.searchable()
    try:
        if study is None:
            level, matches = "studies", search.search_studies(index, params)
        elif leaf == "instances":
            level, matches = "instances", search.search_instances(index, study, series, params)
        elif request.path.endswith("/series"):
            level, matches = "series", search.search_series(index, study, params)
        else:
            return None
        page = search.page_of(level, params, matches, cap=app.qido_cap)
    except search.QueryError as exc:
        return _error(400, str(exc))
    if not page.matches:
        return Response(status=204)
    response = Response(orjson.dumps(page.matches), content_type=DICOM_JSON)
    if page.more:
        response.headers["Warning"] = search.MORE_RESULTS_WARNING
    return response


def _metadata(app: EmulatorApp, study: str, series: str | None) -> Response:
    keys = sorted((key for key in app.folder.keys() if key.study_uid == study
                   and (series is None or key.series_uid == series)),
                  key=lambda key: (key.series_uid, key.sop_uid))
    renderings = [app.renderings.get(app, key) for key in keys]
    body = [rendered for rendered in renderings if rendered is not None]
    if not body:
        return _error(404, "Study not found." if series is None else "Series not found.")
    return Response(b"[" + b",".join(body) + b"]", content_type=DICOM_JSON)


def _error(status: int, message: str) -> Response:
    return Response(wire.google_error(status, message), status=status,
                    content_type="application/json")
