"""Every route of the app's url_map as a real URL: its variables filled with stored UIDs.

The OPTIONS test and the query-string fuzzer walk all routes this way, so a route added
later is covered without editing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask


@dataclass(frozen=True, slots=True)
class Route:
    rule: str  # the template, e.g. /v1/studies/<study>
    url: str  # with real values
    methods: frozenset[str]


def routes(app: Flask, values: Mapping[str, object]) -> list[Route]:
    """One Route per url_map rule; `values` maps each variable name to a real value
    (a KeyError names a variable a new route introduced: add it to the caller's map)."""
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        arguments = {name: values[name] for name in rule.arguments}
        url = adapter.build(rule.endpoint, arguments, method=next(iter(rule.methods or ())))
        found.append(Route(rule.rule, url, frozenset(rule.methods or ())))
    return found


def get_routes(app: Flask, values: Mapping[str, object]) -> list[Route]:
    return [route for route in routes(app, values) if "GET" in route.methods]


def dicomweb_path(study_uid: str, series_uid: str, sop_uid: str,
                  level: str = "instance") -> str:
    """/studies/…[/series/…[/instances/…]] of a DICOMweb resource, down to `level`
    ("study", "series" or "instance"), below the service root."""
    path = f"/studies/{study_uid}"
    if level in ("series", "instance"):
        path += f"/series/{series_uid}"
    if level == "instance":
        path += f"/instances/{sop_uid}"
    return path
