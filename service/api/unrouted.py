"""Requests no route matches: a problem+json 404 that says which part of the path is not there.

Flask's own 404 ("The requested URL was not found on the server…") tells a client
nothing about what it got wrong. Walking the app's route templates segment by segment
finds the first segment of the path that no route has, and what the routes offer there
instead: `/dicomweb/studies/{study}/thumbnail` answers "no 'thumbnail' under
/dicomweb/studies/{study}; there is: instances, metadata, series".

The answer never echoes what stands where a route has a variable (a UID, a tag), and
echoes an unknown literal segment only when it is a short plain token: a path is the
caller's own input, but error messages carry no patient data, whatever the caller sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from flask import Flask, Response, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from service.api.problems import problem_response
from service.errors import NotFound as NotFoundProblem

_VARIABLE = re.compile(r"^<(?:(\w+):)?(\w+)>$")
_PLAIN_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$")
# DICOMweb services a client may look for that this service does not offer, by the
# first segment under /dicomweb (PS3.18): say so plainly instead of listing routes.
UNSUPPORTED_DICOMWEB = {
    "workitems": "UPS-RS (workitems) is not supported",
    "mwlitems": "the Modality Worklist service is not supported",
}


@dataclass(frozen=True, slots=True)
class Segment:
    text: str  # the literal, or the variable's name
    variable: bool
    rest: bool  # <path:…>: matches every remaining segment

    @property
    def shown(self) -> str:
        return f"{{{self.text}}}" if self.variable else self.text


def parse_template(rule: str) -> tuple[Segment, ...]:
    """"/v1/studies/<study>" → its segments (literals and variables)."""
    segments = []
    for part in rule.strip("/").split("/"):
        variable = _VARIABLE.match(part)
        if variable:
            segments.append(Segment(variable.group(2), True, variable.group(1) == "path"))
        elif part:
            segments.append(Segment(part, False, False))
    return tuple(segments)


def _matches(segment: Segment, part: str) -> bool:
    return segment.text == part if not segment.variable else part != ""


class MissingResource(TypedDict):
    """A 404 problem's members for a path no route matches."""

    detail: str
    available: list[str]


def describe_missing(path: str, templates: Iterable[tuple[Segment, ...]]) -> MissingResource:
    """What a path no route matches lacks: `detail`, and `available` (the segments the
    routes offer where the path went astray, sorted), for a 404 problem body."""
    parts = path.split("/")[1:] if path.startswith("/") else path.split("/")
    trailing_slash = len(parts) > 1 and parts[-1] == ""
    if trailing_slash:
        parts = parts[:-1]
    candidates: list[tuple[Segment, ...]] = list(templates)
    depth = 0
    for depth, part in enumerate(parts):  # noqa: B007 - depth is read after the loop
        following = [t for t in candidates if len(t) > depth and _matches(t[depth], part)]
        if not following:
            break
        candidates = following
    else:
        depth = len(parts)
    known = "/" + "/".join(_shown(candidates, i) for i in range(depth)) if depth else ""
    if depth == len(parts):
        children = sorted({t[depth].shown for t in candidates if len(t) > depth})
        if trailing_slash and any(len(t) == depth for t in candidates):
            detail = f"{known}/ has no trailing slash: ask for {known}"
        else:
            detail = (f"{known or '/'} is not a resource of this service"
                      + (f"; below it there is: {', '.join(children)}" if children else ""))
        return {"detail": detail, "available": children}
    part = parts[depth]
    children = sorted({t[depth].shown for t in candidates if len(t) > depth})
    if depth == 1 and parts[0] == "dicomweb" and part in UNSUPPORTED_DICOMWEB:
        return {"detail": f"/dicomweb/{part}: {UNSUPPORTED_DICOMWEB[part]}",
                "available": children}
    named = f"{part!r}" if _PLAIN_TOKEN.match(part) else f"segment {depth + 1}"
    return {"detail": f"There is no {named} under {known or '/'}; there is: "
                      f"{', '.join(children)}", "available": children}


def _shown(candidates: Sequence[tuple[Segment, ...]], index: int) -> str:
    # Every candidate matched this part; prefer a literal (it is what the client wrote).
    segments = [t[index] for t in candidates if len(t) > index]
    literal = next((s for s in segments if not s.variable), None)
    return (literal or segments[0]).shown


def method_detail(method: str, path: str, allowed: Sequence[str]) -> str:
    """The detail of a 405: what the path does answer (and where STOW-RS clients should go)."""
    detail = f"{method} is not allowed here; this path answers {', '.join(sorted(allowed))}"
    if method == "POST" and path.startswith("/dicomweb/"):
        detail += (". STOW-RS is not supported: POST DICOM JSON dumps (Google's metadata "
                   "export) to /v1/dumps")
    return detail


def init_app(app: Flask) -> None:
    """Answer unmatched paths with a 404 problem naming what is not there, and methods a
    path does not answer with a 405 saying which it does."""
    templates = [parse_template(rule.rule) for rule in app.url_map.iter_rules()]

    @app.errorhandler(MethodNotAllowed)
    def _method_not_allowed(error: MethodNotAllowed) -> Response:
        allowed = list(error.valid_methods or ())
        body = {"type": "about:blank", "title": error.name, "status": 405,
                "detail": method_detail(request.method, request.path, allowed)}
        return problem_response(405, body, {"Allow": ", ".join(allowed)})

    @app.errorhandler(NotFound)
    def _not_found(error: NotFound) -> Response:
        if request.url_rule is not None:  # a route matched and its view said 404: as before
            return problem_response(404, {"type": "about:blank", "title": error.name,
                                          "status": 404, "detail": error.description})
        problem = NotFoundProblem(**describe_missing(request.path, templates))
        return problem_response(404, problem.to_problem())
