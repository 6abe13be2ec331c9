"""The fuzz properties of fuzzing.py, bounded for CI: a few hundred examples each,
derandomized (the same examples on every run), on the test's back end.

The long run (any number of examples, random): python -m tests.hardening.long_run --help
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hardening.fuzzing import (
    DumpProperty,
    QueryProperty,
    mutated_dumps,
    query_strings,
    route_uids,
    seed_dumps,
    spec_parameters,
)
from tests.support.database import snapshot
from tests.support.routes import get_routes

CI: dict[str, Any] = dict(derandomize=True, database=None, deadline=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
DUMP_EXAMPLES = 300
QUERY_EXAMPLES = 400


def test_mutated_dumps_never_5xx_refusals_change_nothing_acceptances_read_back(
        hardened_app: Flask, study_dump: list[dict[str, Any]]) -> None:
    seeds = seed_dumps(study_dump)
    for seed in seeds[1:]:  # the store holds every seed, so that mutations update
        hardened_app.test_client().post("/v1/dumps", json=seed)
    prop = DumpProperty(hardened_app)

    @settings(max_examples=DUMP_EXAMPLES, **CI)
    @given(mutated_dumps(seeds))
    def posted(body: bytes) -> None:
        prop.check(body)

    posted()
    statuses = prop.tally.statuses
    # The mutations reach both sides of the validation, not only one.
    assert statuses.get(200, 0) > 10 and statuses.get(400, 0) > 10, statuses


def test_mutated_query_strings_on_every_get_route_never_5xx(
        hardened_app: Flask, values: dict) -> None:
    routes = get_routes(hardened_app, values)
    engine = hardened_app.extensions["engine"]
    before = snapshot(engine)
    prop = QueryProperty(hardened_app)

    @settings(max_examples=QUERY_EXAMPLES, **CI)
    @given(st.sampled_from(routes), query_strings(spec_parameters(), route_uids(values)))
    def asked(route, query: str) -> None:  # type: ignore[no-untyped-def]
        prop.check(route, query)

    asked()
    assert snapshot(engine) == before  # reading never writes
    assert prop.tally.statuses.get(200, 0) > 10 and prop.tally.statuses.get(400, 0) > 10
