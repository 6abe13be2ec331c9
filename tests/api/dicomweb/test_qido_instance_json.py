"""Instance searches answered from the small QIDO JSON (instance_qido) equal those answered
from each instance's whole stored JSON, for new stores and for rows stored before it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import requests
from dicomweb_client import DICOMwebClient
from sqlalchemy import delete, func, select

from service.dicomweb import levels
from service.dicomweb.answers import answer_keys, needs_whole_instance
from service.dicomweb.query import parse_query
from service.emulator.server import Emulator
from service.store.schema import instance_qido
from service.usecases.ingest import ingest_bytes
from tests.api.dicomweb.conftest import Corpus, Server, make_app, served
from tests.api.dicomweb.oracle import Oracle, read

# Instance-level return attributes (PS3.18 Table 10.6.3-5) that pydicom can compare.
COMPARED = ("SOPClassUID", "SOPInstanceUID", "InstanceNumber", "Rows", "Columns",
            "BitsAllocated", "NumberOfFrames")


@pytest.mark.parametrize(("args", "level", "fixed", "whole"), [
    ([], levels.INSTANCE, (levels.STUDY, levels.SERIES), False),
    ([("InstanceNumber", "2")], levels.INSTANCE, (levels.STUDY,), False),
    ([("SOPClassUID", "1.2.840.10008.5.1.4.1.1.2")], levels.INSTANCE, (), False),
    ([("PatientName", "SMITH*"), ("Modality", "CT")], levels.INSTANCE, (), False),
    ([("includefield", "Rows,NumberOfFrames")], levels.INSTANCE, (), False),
    ([("includefield", "ImageType")], levels.INSTANCE, (), True),
    ([("includefield", "00431028")], levels.INSTANCE, (), True),  # private: instance level
    ([("includefield", "all")], levels.INSTANCE, (), True),
    ([("SliceThickness", "5")], levels.INSTANCE, (), True),
    ([("ImageType", "ORIGINAL*")], levels.INSTANCE, (), True),
    ([("includefield", "all")], levels.SERIES, (), False),  # no instance rows read at all
])
def test_whole_instance_json_only_when_needed(args, level, fixed, whole) -> None:  # type: ignore[no-untyped-def]
    query = parse_query(args, level, default_limit=10, max_limit=10)
    keys = None if query.include_all else answer_keys(query, fixed)
    assert needs_whole_instance(query, keys) is whole


def _by_sop(results: list[dict]) -> dict[str, dict]:
    return {result["00080018"]["Value"][0]: result for result in results}


def test_small_json_answers_agree_with_pydicom_and_with_whole_json(
        dwc: DICOMwebClient, corpus: Corpus) -> None:
    oracle = Oracle(corpus.all_instances())
    small = _by_sop(dwc.search_for_instances(get_remaining=True))
    # ImageType is outside the small JSON: this search reads every whole instance.
    whole = _by_sop(dwc.search_for_instances(fields=["ImageType"], get_remaining=True))
    assert small.keys() == whole.keys() == {ds.SOPInstanceUID for ds in oracle.datasets}
    for ds in oracle.datasets:
        answer, reference = small[ds.SOPInstanceUID], whole[ds.SOPInstanceUID]
        assert {key: value for key, value in reference.items() if key != "00080008"} == answer
        found = read(answer)
        for keyword in COMPARED:
            assert (keyword in found) == (keyword in ds), keyword
            if keyword in ds:
                assert found[keyword].value == ds[keyword].value, keyword
        assert "ImageType" not in found  # not asked for: not answered


@pytest.fixture
def legacy(corpus: Corpus, emulator: Emulator, tmp_path: Path) -> Server:  # type: ignore[misc]
    """A store whose instances were written before instance_qido existed (no rows there)."""
    with served(make_app(emulator, tmp_path / "legacy.sqlite3", dumps=[corpus.dump]),
                emulator) as server:
        yield server


def test_rows_stored_before_the_table_are_answered_from_their_whole_json(
        legacy: Server, corpus: Corpus) -> None:
    engine = legacy.app.extensions["engine"]
    url = legacy.dicomweb + "/instances"  # the 10 instances of corpus.dump: two pages
    before = requests.get(url, timeout=30)
    assert before.status_code == 200 and before.json()
    before_next = requests.get(url + "?offset=5", timeout=30).json()
    assert before_next
    with engine.begin() as connection:
        connection.execute(delete(instance_qido))
    after = requests.get(url, timeout=30)
    assert after.json() == before.json()
    assert requests.get(url + "?offset=5", timeout=30).json() == before_next
    # Ingesting a changed instance again writes its row, with the new values.
    changed = orjson.loads(orjson.dumps(corpus.dump[1]))
    changed["00200013"] = {"vr": "IS", "Value": [77]}
    ingest_bytes(engine, orjson.dumps([changed]))
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(instance_qido)).scalar() == 1
    sop_uid = changed["00080018"]["Value"][0]
    answer = requests.get(url, params={"SOPInstanceUID": sop_uid}, timeout=30).json()[0]
    assert read(answer).InstanceNumber == 77
