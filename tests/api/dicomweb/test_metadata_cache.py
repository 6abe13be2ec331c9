"""WADO-RS metadata answers kept by ETag: the bounded cache itself, and a served study
that changes (the cached answer is never served for the new content)."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from service.dicomweb.body_cache import BodyCache
from service.emulator.server import Emulator
from service.usecases.ingest import ingest_bytes
from tests.api.dicomweb.conftest import Corpus, Server, make_app, served
from tests.api.dicomweb.oracle import read


def test_cache_evicts_least_recently_used_by_bytes() -> None:
    cache = BodyCache(100)
    cache.put("a", b"x" * 20)
    cache.put("b", b"y" * 20)
    cache.put("c", b"z" * 20)
    assert cache.get("a") == b"x" * 20  # "b" is now the least recently used
    cache.put("d", b"w" * 25)
    cache.put("e", b"v" * 25)
    assert cache.size <= 100
    assert cache.get("b") is None and cache.get("a") is not None
    cache.put("a", b"x" * 5)  # replaced: its size counts once
    assert cache.size == sum(len(cache.get(key) or b"") for key in "abcde")


def test_cache_keeps_no_body_over_a_quarter_of_its_size() -> None:
    cache = BodyCache(100)
    cache.put("small", b"s" * 25)
    cache.put("big", b"b" * 26)
    assert cache.get("big") is None and cache.get("small") == b"s" * 25 and len(cache) == 1


def _serve(emulator: Emulator, database: Path, corpus: Corpus,
           **overrides: object) -> Iterator[Server]:
    with served(make_app(emulator, database, dumps=[corpus.dump], **overrides),
                emulator) as server:
        yield server


@pytest.fixture
def own(corpus: Corpus, emulator: Emulator, tmp_path: Path) -> Iterator[Server]:
    yield from _serve(emulator, tmp_path / "own.sqlite3", corpus)


@pytest.fixture
def uncached(corpus: Corpus, emulator: Emulator, tmp_path: Path) -> Iterator[Server]:
    yield from _serve(emulator, tmp_path / "uncached.sqlite3", corpus,
                      dicomweb_metadata_cache_bytes=0)


def test_a_changed_study_is_never_answered_from_the_cache(own: Server, corpus: Corpus) -> None:
    study_uid, series_uid, sop_uid = corpus.uids("ct2")
    url = f"{own.dicomweb}/studies/{study_uid}/metadata"
    first = requests.get(url, timeout=30)
    cache = own.app.extensions["dicomweb_metadata_cache"]
    assert first.status_code == 200 and len(cache) == 1
    again = requests.get(url, timeout=30)
    assert again.content == first.content and again.headers["ETag"] == first.headers["ETag"]
    assert len(cache) == 1  # answered from the cache, not stored twice
    changed = next(i for i in corpus.dump if i["00080018"]["Value"][0] == sop_uid)
    changed = {**changed, "00081030": {"vr": "LO", "Value": ["changed description"]}}
    ingest_bytes(own.app.extensions["engine"], orjson.dumps([changed]))
    after = requests.get(url, timeout=30)
    assert after.status_code == 200 and after.headers["ETag"] != first.headers["ETag"]
    answers = {i["00080018"]["Value"][0]: read(i) for i in after.json()}
    assert answers[sop_uid].StudyDescription == "changed description"
    assert email.utils.parsedate_to_datetime(after.headers["Last-Modified"]) >= \
        email.utils.parsedate_to_datetime(first.headers["Last-Modified"])
    stale = requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=30)
    assert stale.status_code == 200 and stale.content == after.content
    series = requests.get(f"{own.dicomweb}/studies/{study_uid}/series/{series_uid}/metadata",
                          timeout=30)
    assert answers[sop_uid] == read(next(i for i in series.json()
                                         if i["00080018"]["Value"][0] == sop_uid))


def test_answers_with_and_without_the_cache_are_equal(own: Server, uncached: Server,
                                                      corpus: Corpus) -> None:
    assert "dicomweb_metadata_cache" not in uncached.app.extensions
    for role in ("ct1", "dose", "j2k"):
        study_uid, series_uid, sop_uid = corpus.uids(role)
        for path in (f"/studies/{study_uid}/metadata",
                     f"/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/metadata"):
            cached = requests.get(own.dicomweb + path, timeout=30)
            cached_again = requests.get(own.dicomweb + path, timeout=30)
            plain = requests.get(uncached.dicomweb + path, timeout=30)
            assert cached.status_code == plain.status_code == 200
            # Each server's own base URL is in its BulkDataURIs.
            assert cached_again.content == cached.content
            assert cached.content.replace(own.url.encode(), b"") == \
                plain.content.replace(uncached.url.encode(), b"")
    assert "dicomweb_metadata_cache" not in uncached.app.extensions
