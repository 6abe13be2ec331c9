"""Health checks, the dictionary and GET /openapi.yaml, validated against openapi.yaml."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from openapi_core import OpenAPI
from pydicom.datadict import dictionary_description, dictionary_VR, tag_for_keyword

from service import create_app, migrations
from service.api import spec
from service.settings import Settings
from tests.contract.conftest import SPEC_PATH, Contract, load_yaml


def test_healthz(contract: Contract) -> None:
    assert contract.call("GET", "/healthz").get_json() == {"status": "ok"}


def test_readyz(contract: Contract) -> None:
    assert contract.call("GET", "/readyz").get_json() == {"status": "ready",
                                                          "schema_revision": migrations.head()}


@pytest.fixture
def unreachable_store(tmp_path: Path) -> Iterator[Flask]:
    """An app whose SQLite store has vanished (directory removed after start-up)."""
    folder = tmp_path / "store"
    application = create_app(Settings.load(
        environ={}, database_url=f"sqlite:///{folder / 'store.sqlite3'}"))
    application.extensions["engine"].dispose()
    shutil.rmtree(folder)
    yield application
    application.extensions["engine"].dispose()


def test_readyz_without_store_is_503(openapi: OpenAPI, unreachable_store: Flask) -> None:
    response = Contract(openapi, unreachable_store.test_client()).call("GET", "/readyz")
    assert response.status_code == 503


@pytest.mark.parametrize("tag", ["PatientName", "00100010", "(0010,0010)", "0010,0010",
                                 "00280030", "60003000"])
def test_public_tags(contract: Contract, tag: str) -> None:
    entry = contract.call("GET", f"/v1/tags/{tag}").get_json()
    number = tag_for_keyword(tag) or int(tag.strip("()").replace(",", ""), 16)
    assert entry["tag"] == f"{number:08X}"
    assert entry["name"] == dictionary_description(number)
    assert entry["vr"] == dictionary_VR(number)


def test_private_tag_with_creator(contract: Contract) -> None:
    entry = contract.call("GET", "/v1/tags/00091001",
                          query_string={"creator": "GEMS_IDEN_01"}).get_json()
    assert entry["creator"] == "GEMS_IDEN_01"
    assert entry["keyword"] is None


@pytest.mark.parametrize(("path", "query", "parameter"), [
    ("/v1/tags/00091001", {}, "creator"),
    ("/v1/tags/00091001", {"creator": "NOBODY"}, None),
    ("/v1/tags/00021234", {}, None),
])
def test_unknown_tags_are_404(contract: Contract, path: str, query: dict,
                              parameter: str | None) -> None:
    response = contract.call("GET", path, query_string=query)
    assert response.status_code == 404
    assert response.get_json().get("parameter") == parameter


@pytest.mark.parametrize(("tag", "request_valid"), [
    ("0010-0010", False), ("12345", False), ("(0010,00", False),
    ("NoSuchKeyword", True),  # shaped like a keyword: only the dictionary can refuse it
])
def test_malformed_tags_are_400(contract: Contract, tag: str, request_valid: bool) -> None:
    response = contract.call("GET", f"/v1/tags/{tag}", request_valid=request_valid)
    assert response.status_code == 400
    assert response.get_json()["parameter"] == "tag"


def test_served_document_is_the_contract(contract: Contract) -> None:
    response = contract.call("GET", "/openapi.yaml")
    assert response.mimetype == "application/yaml"
    assert response.get_data() == SPEC_PATH.read_bytes()
    assert load_yaml(response.get_data())["info"]["title"] == "dicom-resolver"


def test_document_search_order(tmp_path: Path) -> None:
    package = tmp_path / "service"
    package.mkdir()
    source, packaged = tmp_path / "openapi.yaml", package / "openapi.yaml"
    source.write_text("openapi: 3.1.0\n")
    # Without a pyproject.toml beside it, the parent directory is not a source checkout
    # (it may be site-packages): its openapi.yaml is not ours.
    assert spec.candidates(package) == (packaged,)
    assert spec.find_document(spec.candidates(package)) is None
    packaged.write_text("openapi: 3.1.0\n")
    assert spec.find_document(spec.candidates(package)) == packaged
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    assert spec.find_document(spec.candidates(package)) == source


def test_source_checkout_serves_the_repository_file() -> None:
    assert spec.find_document() == SPEC_PATH


def test_missing_document_is_404(contract: Contract, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # An installation without the document (not packaged): stand in an empty place.
    monkeypatch.setattr(spec, "candidates", lambda: (tmp_path / "openapi.yaml",))
    response = contract.call("GET", "/openapi.yaml")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
