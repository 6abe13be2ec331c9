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

blueprint = Blueprint("dicomweb", __name__, url_prefix="/dicomweb")

DICOM_JSON = "application/dicom+json"
ALLOWED_HEADERS = "Authorization, Accept, Content-Type, If-None-Match, If-Modified-Since, Range, " \
                  "Cache-Control"
EXPOSED_HEADERS = "Warning, ETag, Content-Location, Content-Range, Content-Length, " \
                  "Last-Modified, Accept-Ranges"


def base_url() -> str:
    """The service's root URL as the client sees it (no trailing slash): the configured
    public URL (behind a proxy, or for clients that drop the port from Host, as
    dicomweb-client does), else the request's own root."""
    return (settings().public_base_url or request.url_root).rstrip("/")


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
