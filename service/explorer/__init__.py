"""The built-in explorer: a static page at `/` and its files under `/explorer/`.

Everything the page needs is served from here (no CDN, no build step): closed
hospital networks must be able to use it. Every answer carries a
Content-Security-Policy that allows only the service's own origin and no
inline script or style, so a value shown from a dump can never run as code.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, request, send_from_directory

from service.explorer.names import dictionary_json, dictionary_json_gzip

STATIC_DIR = Path(__file__).resolve().parent / "static"

# 'self' only; no inline code, no plugins, no framing, no <base> hijack.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'")

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Deep links carry UIDs and search terms in the fragment; never leak a referrer.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

blueprint = Blueprint("explorer", __name__)


@blueprint.after_request
def _secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _static(filename: str) -> Response:
    response = send_from_directory(STATIC_DIR, filename, max_age=0)
    # Revalidate each time (ETag/Last-Modified make it cheap) so upgrades show at once.
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/")
def index() -> Response:
    return _static("index.html")


@blueprint.get("/explorer/dictionary.json")
def dictionary() -> Response:
    """Names of the public data dictionary, for the attribute table (not patient data)."""
    if request.accept_encodings["gzip"]:
        response = Response(dictionary_json_gzip(), mimetype="application/json")
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(dictionary_json(), mimetype="application/json")
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@blueprint.get("/explorer/<path:filename>")
def static_file(filename: str) -> Response:
    return _static(filename)
