"""A bounded schemathesis run against the running service: no 5xx, no answer outside the
schema. Positive examples from openapi.yaml, a few per operation, under a time cap."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from service.examples.factory import make_dump
from tests.support.gunicorn import serve

EXAMPLES_PER_OPERATION = 8  # × ~35 operations: a few hundred requests
TIME_CAP_SECONDS = 600
# Operations schemathesis cannot check, and why (not faults of the service).
TOOL_LIMITS = {
    "GET /explorer/dictionary.json": "schemathesis 4.32 turns the response's prefixItems "
                                     "into a draft-4 `items` array, then rejects its own rewrite",
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, pixel_study) -> Iterator[str]:
    from service.emulator.keys import ServiceAccount
    from service.emulator.server import Emulator

    folder = tmp_path_factory.mktemp("schemathesis")
    with Emulator(pixel_study.folder, account=ServiceAccount.generate("demo-project")) as up:
        service = serve(f"sqlite:///{folder / 'store.sqlite3'}", folder / "service.log",
                        workers=2, DICOM_RESOLVER_HEALTHCARE_API_ROOT=up.api_root,
                        GOOGLE_APPLICATION_CREDENTIALS=str(up.key_file), NO_GCE_CHECK="True")
        try:
            assert requests.post(f"{service.url}/v1/dumps",
                                 data=orjson.dumps(make_dump(pixel_study.datasets)),
                                 headers={"Content-Type": "application/dicom+json"},
                                 timeout=60).status_code == 200
            yield service.url
        finally:
            service.stop()
            assert "Traceback" not in service.log, service.log[-4000:]


@pytest.fixture(scope="module")
def api_schema(running: str):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_url(f"{running}/openapi.yaml")


def test_the_running_service_keeps_its_contract(api_schema) -> None:  # type: ignore[no-untyped-def]
    # Driven by hand rather than through schemathesis' pytest plugin, which does not
    # support the pytest of this project.
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    started = time.monotonic()
    for operation in operations:
        if time.monotonic() - started > TIME_CAP_SECONDS:
            break
        if operation.label in TOOL_LIMITS:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance],
                                   timeout=60)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # report every operation's failure
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
