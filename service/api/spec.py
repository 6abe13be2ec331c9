"""GET /openapi.yaml: the service's OpenAPI 3.1 contract, served as written.

The repository root's openapi.yaml is the source. A source checkout (editable install)
serves it directly, so the document can never lag behind the file the contract tests
validate against; an installed wheel serves the copy packaged as service/openapi.yaml.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Response, current_app

from service.errors import NotFound

log = logging.getLogger(__name__)

blueprint = Blueprint("spec", __name__)

MEDIA_TYPE = "application/yaml"  # RFC 9512
_PACKAGE = Path(__file__).resolve().parent.parent
DOCUMENT = "openapi_document"  # app.extensions key of the Document


def candidates(package: Path = _PACKAGE) -> tuple[Path, ...]:
    """Where the document may be, best first: the source checkout's, then the packaged copy.

    The directory above an installed package is site-packages, where an openapi.yaml
    could belong to anyone: it counts as the repository root only beside our pyproject.toml.
    """
    root = package.parent
    source = (root / "openapi.yaml",) if (root / "pyproject.toml").is_file() else ()
    return (*source, package / "openapi.yaml")


def find_document(paths: tuple[Path, ...] | None = None) -> Path | None:
    """The first existing file among `paths` (default: candidates())."""
    return next((path for path in paths or candidates() if path.is_file()), None)


class Document:
    """The document's bytes, read at the first request (not at start: where it is is
    looked up then) and kept; create_app builds one per app."""

    def __init__(self) -> None:
        self._bytes: bytes | None = None

    def read(self) -> bytes:
        if self._bytes is None:  # two first requests at once both read it: harmless
            path = find_document()
            if path is None:
                raise NotFound("the OpenAPI document is not packaged with this installation")
            self._bytes = path.read_bytes()
            log.info("serving OpenAPI document from %s (%d bytes)", path, len(self._bytes))
        return self._bytes


@blueprint.get("/openapi.yaml")
def openapi_document() -> Response:
    document: Document = current_app.extensions[DOCUMENT]
    return Response(document.read(), mimetype=MEDIA_TYPE)
