"""The explorer's files over HTTP: CSP on every answer, no inline code, modules that resolve,
the data dictionary against pydicom's, and source rules that keep PHI out of Web Storage."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient
from pydicom.datadict import DicomDictionary, dictionary_description, dictionary_keyword
from werkzeug.test import TestResponse

from service.explorer import CONTENT_SECURITY_POLICY, STATIC_DIR

JS_FILES = sorted(path.relative_to(STATIC_DIR).as_posix() for path in STATIC_DIR.rglob("*.js"))
IMPORT_RE = re.compile(r"""^\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']""", re.M | re.S)


class _Inventory(HTMLParser):
    """Every script/style/link element and every inline handler or style attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_code: list[str] = []
        self.links: list[dict[str, str | None]] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in attributes:
            if name.startswith("on") or name == "style":
                self.inline_code.append(f"{tag} {name}")
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        elif tag == "style":
            self.inline_code.append("style element")
        elif tag == "link":
            self.links.append(attributes)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_code.append("inline script")


def test_policy_allows_only_self() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'self'"
    for name in ("script-src", "style-src", "img-src", "connect-src"):
        assert directives[name] == "'self'", name
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert directives["object-src"] == "'none'"


def fetch(client: FlaskClient, path: str) -> TestResponse:
    """GET and close (file answers hold an open file until the response is closed)."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def test_page_is_served_at_root_with_the_policy(client: FlaskClient) -> None:
    response = fetch(client, "/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    page = _Inventory()
    page.feed(response.get_data(as_text=True))
    assert page.inline_code == []
    assert page.scripts == [{"type": "module", "src": "/explorer/js/main.js"}]
    # Everything the page loads comes from the service itself: no CDN, no other origin.
    for link in page.links:
        assert link["href"].startswith("/explorer/"), link
        assert fetch(client, link["href"]).status_code == 200, link


@pytest.mark.parametrize("name", JS_FILES)
def test_every_module_is_served_and_its_imports_resolve(client: FlaskClient, name: str) -> None:
    response = fetch(client, f"/explorer/{name}")
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    source = response.get_data(as_text=True)
    for target in IMPORT_RE.findall(source):
        assert target.startswith("./"), f"{name} imports {target} from outside the explorer"
        assert (STATIC_DIR / name).parent.joinpath(target).is_file(), f"{name}: {target}"


@pytest.mark.parametrize("name", JS_FILES)
def test_sources_keep_phi_out_of_storage_and_markup(name: str) -> None:
    source = (STATIC_DIR / name).read_text()
    for forbidden in ("localStorage", "sessionStorage", "indexedDB", "document.cookie",
                      "innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function"):
        assert forbidden not in source, f"{name} uses {forbidden}"


def test_dictionary_agrees_with_pydicom(client: FlaskClient) -> None:
    response = client.get("/explorer/dictionary.json")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    table = response.get_json()
    assert len(table) == len(DicomDictionary)
    for tag in (0x00100010, 0x00280030, 0x7FE00010, 0x00081032, 0x0040A730):
        keyword, name, vr, vm, retired = table[f"{tag:08X}"]
        assert keyword == dictionary_keyword(tag)
        assert name == dictionary_description(tag)
        assert vr == DicomDictionary[tag][0] and vm == DicomDictionary[tag][1]
        assert retired in (0, 1)


@pytest.mark.parametrize("path", ["/explorer/nothing.js", "/explorer/../__init__.py",
                                  "/explorer/%2e%2e/names.py"])
def test_unknown_or_outside_files_are_404_problems(client: FlaskClient, path: str) -> None:
    response = fetch(client, path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_api_answers_do_not_carry_the_page_policy(client: FlaskClient) -> None:
    # The policy belongs to the page's own files; JSON clients of the API are unaffected.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response.headers


def test_dictionary_is_gzipped_for_clients_that_accept_it(client: FlaskClient) -> None:
    plain = client.get("/explorer/dictionary.json")
    packed = client.get("/explorer/dictionary.json", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert len(packed.data) < len(plain.data) / 3
    assert gzip.decompress(packed.data) == plain.data
