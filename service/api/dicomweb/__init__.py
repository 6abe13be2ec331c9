"""/dicomweb: QIDO-RS searches and WADO-RS retrieval (PS3.18) over the service's own store.

search.py answers the searches, retrieve.py metadata, frames and bulk data,
rendered.py the rendered images. This module holds the blueprint and CORS:
the allowed origins come from Settings.dicomweb_cors_origins; preflights are
answered, Authorization is allowed and Warning/ETag/Content-Location exposed,
because browser viewers fail on exactly these when they are missing.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from service.api import settings
from service.dicomweb.uris import HostError, service_root
from service.errors import BadRequest

blueprint = Blueprint("dicomweb", __name__, url_prefix="/dicomweb")

DICOM_JSON = "application/dicom+json"
ALLOWED_HEADERS = "Authorization, Accept, Content-Type, If-None-Match, If-Modified-Since, Range, " \
                  "Cache-Control"
EXPOSED_HEADERS = "Warning, ETag, Content-Location, Content-Range, Content-Length, " \
                  "Last-Modified, Accept-Ranges"


def base_url() -> str:
    """The service's root URL as the client sees it (no trailing slash), for RetrieveURLs and
    BulkDataURIs: see service.dicomweb.uris.service_root; 400 for an unusable Host."""
    config = settings()
    try:
        root = service_root(public_base_url=config.public_base_url,
                            trust_forwarded=config.trust_forwarded_headers,
                            scheme=request.scheme, host=request.host,
                            server_port=request.environ.get("SERVER_PORT"),
                            headers=dict(request.headers))
    except HostError as exc:
        raise BadRequest(f"{exc}; cannot build URLs back to this service.",
                         parameter="Host") from exc
    # A configured public URL is whole; a derived one gains the WSGI mount point.
    return root if config.public_base_url else root + request.script_root


@blueprint.after_request
def _cors(response: Response) -> Response:
    origin = request.headers.get("Origin")
    allowed = settings().dicomweb_cors_origins
    if not origin or not allowed:
        return response
    if "*" in allowed:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.vary.add("Origin")
    else:
        return response
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response


from service.api.dicomweb import instances, rendered, retrieve, search  # noqa: E402,F401  (routes)
