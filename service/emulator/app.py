"""The emulator's WSGI application: Google's OAuth token endpoint and DICOMweb retrieve routes.

Routes (as on healthcare.googleapis.com):
  POST /token                                  JWT bearer grant → opaque access token
  GET  /v1/{store}/dicomWeb/studies/{st}/series/{se}/instances/{sop}/bulkdata/{tag}
  GET  /v1/{store}/dicomWeb/studies/{st}/series/{se}/instances/{sop}/frames/{n[,m…]}
  GET  /v1/{store}/dicomWeb/studies/{st}/series/{se}/instances/{sop}/metadata
  GET  /v1/{store}/dicomWeb/studies/{st}/series/{se}/instances/{sop}   (the Part 10 object)
  GET  /v1/{store}/dicomWeb/studies[/…]  QIDO-RS and study/series metadata (study_routes.py)
  GET  /oauth2/v1/certs                       certificates of the Pub/Sub push tokens
Faults injected through `FaultPlan` replace or alter answers, to test clients.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from werkzeug.wrappers import Request, Response

from service.dicom import part10
from service.emulator import dicomstore, pubsub, study_routes, wire
from service.emulator.dicomstore import DicomFolder, InstanceKey
from service.emulator.faults import Fault, FaultPlan
from service.emulator.keys import JWT_BEARER_GRANT, InvalidAssertion, ServiceAccount

log = logging.getLogger(__name__)

GOOGLE_ROOT = "https://healthcare.googleapis.com"
_ROUTE = re.compile(
    r"^/v1/(?P<store>projects/[^/]+/locations/[^/]+/datasets/[^/]+/dicomStores/[^/]+)"
    r"/dicomWeb/studies/(?P<study>[^/]+)/series/(?P<series>[^/]+)/instances/(?P<sop>[^/]+)"
    r"(?:/bulkdata/(?P<tag>[0-9A-Fa-f]{8})|/frames/(?P<frames>[0-9]+(?:,[0-9]+)*)|"
    r"/(?P<metadata>metadata))?$")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator saw it; the Authorization value is redacted."""

    method: str
    path: str
    headers: dict[str, str]
    status: int
    query: str = ""  # the query string (QIDO-RS paging and filters)


class EmulatorApp:
    def __init__(self, folder: DicomFolder, account: ServiceAccount, store_path: str, *,
                 token_lifetime: int = 3600, latency: float = 0.0) -> None:
        self.folder = folder
        self.account = account
        self.store_path = store_path
        self.token_uri = ""  # known once the server is bound
        self.token_lifetime = token_lifetime
        self.latency = latency
        self.faults = FaultPlan()
        # Study-level search and metadata routes (study_routes.py), Pub/Sub push (pubsub.py).
        self.qido_cap: int | None = None  # lower than Google's QIDO-RS cap, to test paging
        self.renderings = study_routes.MetadataRenderings()
        self.pubsub = pubsub.Notifier(store_path)
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self.token_requests = 0
        self.requests: list[RecordedRequest] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self.dispatch(request)
        headers = {name: ("<redacted>" if name.lower() == "authorization" else value)
                   for name, value in request.headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(request.method, request.path, headers,
                                                 response.status_code,
                                                 request.query_string.decode("latin-1")))
        return response(environ, start_response)

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def dispatch(self, request: Request) -> Response:
        if request.path == "/token":
            with self._lock:
                self.token_requests += 1
            fault = self.faults.take(request.path, token_endpoint=True)
            if fault is not None and fault.replaces_answer:
                return self._fault_answer(fault)
            return self._token(request)
        if request.path == pubsub.CERTS_PATH:
            return _json(json.loads(self.pubsub.signer.certs_json()))
        if request.path in ("/", "/healthz"):
            return _json({"store": self.store_path, "instances": len(self.folder),
                          "token_uri": self.token_uri})
        if not request.path.startswith("/v1/"):
            return _error(404, f"No route for {request.path}.")
        if self.latency:
            time.sleep(self.latency)
        fault = self.faults.take(request.path)
        if fault is not None and fault.replaces_answer:
            return self._fault_answer(fault)
        response = self._dicomweb(request)
        return fault.alter(response) if fault is not None else response

    # -- OAuth ------------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            return _json({"error": "invalid_request"}, 405)
        if request.form.get("grant_type") != JWT_BEARER_GRANT:
            return _json({"error": "unsupported_grant_type"}, 400)
        try:
            self.account.verify_assertion(request.form.get("assertion", ""), self.token_uri)
        except InvalidAssertion as exc:
            log.info("token request refused: %s", exc)
            return _json({"error": "invalid_grant", "error_description": str(exc)}, 400)
        token = "emu-" + secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = now + self.token_lifetime
        return _json({"access_token": token, "expires_in": self.token_lifetime,
                      "token_type": "Bearer"})

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        with self._lock:
            expiry = self._tokens.get(token.strip())
        return expiry is not None and expiry > time.time()

    # -- DICOMweb ---------------------------------------------------------------------------

    def _dicomweb(self, request: Request) -> Response:
        if not self._authorized(request):
            response = _error(401, "Request had invalid authentication credentials. Expected "
                                   "OAuth 2 access token.")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        routed = study_routes.answer(self, request)
        if routed is not None:
            return routed
        match = _ROUTE.match(request.path)
        if match is None:
            return _error(404, f"No DICOMweb route for {request.path}.")
        if request.method != "GET":
            return _error(405, "Only GET is emulated.")
        if match["store"] != self.store_path:
            return _error(403, "Permission 'healthcare.dicomStores.dicomWebRead' denied on "
                               f"resource '{match['store']}' (or it may not exist).")
        key = InstanceKey(match["study"], match["series"], match["sop"])
        if not (match["tag"] or match["frames"] or match["metadata"]):
            return self._instance(request, key, request.path)
        if match["metadata"]:
            rendered = self.renderings.get(self, key)
            if rendered is None:
                return _error(404, "Instance not found.")
            return Response(b"[" + rendered + b"]", content_type="application/dicom+json")
        ds = self.folder.read(key)
        if ds is None:
            return _error(404, "Instance not found.")
        if match["tag"]:
            return self._bulkdata(request, ds, int(match["tag"], 16), request.path)
        numbers = [int(n) for n in match["frames"].split(",")]
        return self._frames(request, ds, numbers, request.path)

    def _bulkdata(self, request: Request, ds: Any, tag: int, location: str) -> Response:
        payload = dicomstore.element_bytes(ds, tag)
        if payload is None:
            return _error(404, f"The instance has no bulk data element {tag:08X}.")
        stored = dicomstore.transfer_syntax(ds)
        native = not dicomstore.is_encapsulated(ds) or tag != 0x7FE00010
        part_type = f"application/octet-stream; transfer-syntax={stored}"
        for media, params in wire.parse_accept(request.headers.get("Accept")):
            syntax = params.get("transfer-syntax")
            if media == "application/octet-stream" and (
                    syntax in ("*", stored) or (syntax is None and native)):
                return Response(payload, content_type=part_type)
            if media in ("multipart/related", "multipart/*", "*/*") and \
                    params.get("type", "application/octet-stream") == "application/octet-stream" \
                    and syntax in (None, "*", stored):
                return _multipart([(payload, part_type, location)])
        return _error(406, "The bulkdata route returns stored bytes only; accepted: "
                           "application/octet-stream; transfer-syntax=* or multipart/related; "
                           'type="application/octet-stream".')

    def _frames(self, request: Request, ds: Any, numbers: list[int], location: str) -> Response:
        stored = dicomstore.transfer_syntax(ds)
        for media, params in wire.parse_accept(request.headers.get("Accept")):
            if media not in ("multipart/related", "multipart/*", "*/*") or \
                    params.get("type", "application/octet-stream") != "application/octet-stream":
                continue
            syntax = params.get("transfer-syntax", ExplicitVRLittleEndian)
            try:
                if syntax in ("*", stored):
                    frames, answered = dicomstore.stored_frames(ds, numbers), stored
                elif syntax == ExplicitVRLittleEndian:
                    frames = dicomstore.decoded_frames(ds, numbers)
                    answered = ExplicitVRLittleEndian
                else:
                    continue
            except dicomstore.FrameError as exc:
                return _error(404, str(exc).capitalize() + ".")
            except (RuntimeError, NotImplementedError, ValueError) as exc:
                log.warning("cannot transcode %s: %s", stored, type(exc).__name__)
                return _error(406, f"Cannot transcode {stored} to {syntax}.")
            part_type = f"application/octet-stream; transfer-syntax={answered}"
            base = location.rsplit("/", 1)[0]
            return _multipart([(frame, part_type, f"{base}/{n}")
                               for frame, n in zip(frames, numbers, strict=True)])
        return _error(406, 'The frames route answers multipart/related; type='
                           '"application/octet-stream" with transfer-syntax=* or '
                           "1.2.840.10008.1.2.1 only.")

    def _instance(self, request: Request, key: InstanceKey, location: str) -> Response:
        """Google's instance retrieve: the stored file for transfer-syntax=* (or the stored
        syntax), Explicit VR Little Endian by default; single part `application/dicom` (a
        Google convenience) or multipart/related; type="application/dicom"."""
        data = self.folder.file_bytes(key)
        if data is None:
            return _error(404, "Instance not found.")
        stored = part10.stored_transfer_syntax(data) or ImplicitVRLittleEndian
        for media, params in wire.parse_accept(request.headers.get("Accept")):
            single = media == "application/dicom"
            if not single and not (media in ("multipart/related", "multipart/*", "*/*") and
                                   params.get("type", "application/dicom") == "application/dicom"):
                continue
            syntax = params.get("transfer-syntax", ExplicitVRLittleEndian)
            if syntax in ("*", stored):
                body, answered = data, stored
            elif syntax == ExplicitVRLittleEndian:
                try:
                    body = part10.explicit_little_endian_bytes(data)
                except part10.Part10Error as exc:
                    log.warning("cannot transcode %s: %s", stored, type(exc).__name__)
                    return _error(406, f"Cannot transcode {stored} to {syntax}.")
                answered = syntax
            else:
                continue
            content_type = f"application/dicom; transfer-syntax={answered}"
            if single:
                return Response(body, content_type=content_type)
            boundary = wire.new_boundary()
            return Response(wire.encode_multipart([(body, content_type, location)], boundary),
                            content_type=f'multipart/related; type="application/dicom"; '
                                         f"boundary={boundary}")
        return _error(406, 'The instance route answers application/dicom or multipart/related; '
                           'type="application/dicom" with transfer-syntax=* or '
                           "1.2.840.10008.1.2.1 only in this emulator.")

    def _fault_answer(self, fault: Fault) -> Response:
        status = fault.status or 500
        body = fault.body if fault.body is not None else wire.google_error(
            status, f"Injected fault {status}.")
        response = Response(body, status=status,
                            content_type=fault.content_type or "application/json")
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        if fault.location is not None:
            response.headers["Location"] = fault.location
        return response


def _multipart(parts: list[tuple[bytes, str, str]]) -> Response:
    boundary = wire.new_boundary()
    return Response(wire.encode_multipart(parts, boundary),
                    content_type=f'multipart/related; type="application/octet-stream"; '
                                 f"boundary={boundary}")


def _json(payload: Any, status: int = 200, content_type: str = "application/json") -> Response:
    return Response(json.dumps(payload), status=status, content_type=content_type)


def _error(status: int, message: str) -> Response:
    return Response(wire.google_error(status, message), status=status,
                    content_type="application/json")
