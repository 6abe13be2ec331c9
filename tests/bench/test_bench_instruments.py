"""The measuring instruments of bench/ (not the benchmarks: nothing here is timed).

wrk's report is parsed into the figures the throughput bench prints, py-spy's collapsed
stacks are summarized by package, and the scale bench's cloned studies are distinct,
valid and ingestible side by side.
"""

from __future__ import annotations

import orjson
import pytest
from pydicom import Dataset
from pydicom.uid import UID
from sqlalchemy import Engine, func, select

from bench.scale import StudyCloner
from bench.throughput import package_of, parse_wrk, summarize_profile
from service.store.schema import instances, studies
from service.usecases.ingest import ingest_bytes

# The shape of `wrk --latency` output (wrk 4.1.0).
WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:8080/healthz
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.35ms    4.10ms  98.12ms   93.51%
    Req/Sec     1.75k   312.40     2.41k    71.00%
  Latency Distribution
     50%    1.22ms
     75%    2.01ms
     90%    4.56ms
     99%  850.00us
  17421 requests in 5.01s, 2.54MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:   3477.65
Transfer/sec:    519.30KB
"""


def test_wrk_report_gives_requests_rate_percentiles_and_errors() -> None:
    assert parse_wrk(WRK_OUTPUT) == (17421, 3477.65, 1.22, 0.85, 7)


def test_wrk_report_in_seconds() -> None:
    slow = WRK_OUTPUT.replace("50%    1.22ms", "50%    1.50s").replace(
        "Socket errors: connect 0, read 1, write 0, timeout 2\n", "").replace(
        "  Non-2xx or 3xx responses: 4\n", "")
    assert parse_wrk(slow) == (17421, 3477.65, 1500.0, 0.85, 0)


def test_profile_summary_by_package_and_function() -> None:
    collapsed = ("handle (gunicorn/workers/gthread.py:1);wsgi_app (flask/app.py:2);"
                 "execute (sqlalchemy/engine/base.py:3) 6\n"
                 "handle (gunicorn/workers/gthread.py:9);access (gunicorn/glogging.py:4);"
                 "emit (logging/__init__.py:5) 2\n")
    summary = summarize_profile("case", collapsed)
    assert "8 samples" in summary
    assert "SQLAlchemy 75%, logging 25%" in summary  # leaf frames
    assert "- 100% `handle (gunicorn/workers/gthread.py)`" in summary  # lines merged
    assert package_of("_search (service/api/dicomweb/search.py:80)") == "service (own code)"


@pytest.fixture(scope="module")
def cloner() -> StudyCloner:
    return StudyCloner(instances_per_study=3)


def test_cloned_studies_are_distinct_and_consistent(cloner: StudyCloner) -> None:
    first, second = (orjson.loads(cloner.study(index)) for index in (0, 1))
    assert len(first) == len(second) == 3
    for dump in (first, second):
        for element in dump:
            dataset = Dataset.from_json(element, bulk_data_uri_handler=lambda *_: b"")
            for uid in (dataset.StudyInstanceUID, dataset.SeriesInstanceUID,
                        dataset.SOPInstanceUID):
                assert UID(uid).is_valid
            assert element["00020003"]["Value"] == [dataset.SOPInstanceUID]
            assert f"/instances/{dataset.SOPInstanceUID}/" in element["7FE00010"]["BulkDataURI"]
    sops = {element["00080018"]["Value"][0] for element in first + second}
    assert len(sops) == 6
    assert first[0]["0020000D"] != second[0]["0020000D"]
    assert first[0]["00100020"] != second[0]["00100020"]


def test_cloned_studies_ingest_side_by_side(cloner: StudyCloner, engine: Engine) -> None:
    for index in range(3):
        answer = ingest_bytes(engine, cloner.study(index))
        assert answer["created"] == 3 and not answer["warnings"]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(studies)).scalar_one() == 3
        assert connection.execute(select(func.count()).select_from(instances)).scalar_one() == 9
