"""The allowlist decides where a bearer token may go; reroot moves Google URLs onto an emulator."""

from __future__ import annotations

import pytest

from service.bulkdata.allowlist import check_uri, is_loopback, reroot
from service.errors import Unprocessable

GOOGLE = ("healthcare.googleapis.com",)
STORE = "projects/p/locations/l/datasets/d/dicomStores/s"
PINNED = (f"healthcare.googleapis.com/v1/{STORE}",)
URI = (f"https://healthcare.googleapis.com/v1/{STORE}/dicomWeb/studies/1.2/series/1.3"
       "/instances/1.4/bulkdata/7FE00010")


@pytest.mark.parametrize(("uri", "allowed"), [
    (URI, GOOGLE),
    (URI, PINNED),
    (URI.replace("healthcare.googleapis.com", "HEALTHCARE.googleapis.com."), GOOGLE),
    (URI.replace("https://healthcare.googleapis.com", "https://healthcare.googleapis.com:443"),
     GOOGLE),
    ("http://127.0.0.1:8080/v1/x", ("127.0.0.1:8080",)),
    ("http://127.5.0.1:8080/v1/x", ("127.5.0.1:8080",)),
    ("http://localhost:9/v1/x", ("localhost:9",)),
    ("http://[::1]:9/v1/x", ("[::1]:9",)),
])
def test_allowed(uri, allowed):
    check_uri(uri, allowed)  # no exception


@pytest.mark.parametrize(("uri", "allowed", "reason"), [
    ("https://evil.example/v1/x", GOOGLE, "allowlist"),
    ("https://healthcare.googleapis.com@evil.example/v1/x", GOOGLE, "user information"),
    ("https://user:pw@healthcare.googleapis.com/v1/x", GOOGLE, "user information"),
    ("http://healthcare.googleapis.com/v1/x", GOOGLE, "plain http"),
    ("http://10.0.0.1:8080/v1/x", ("10.0.0.1:8080",), "plain http"),
    ("ftp://healthcare.googleapis.com/v1/x", GOOGLE, "scheme"),
    ("file:///etc/passwd", GOOGLE, "scheme"),
    ("//healthcare.googleapis.com/v1/x", GOOGLE, "scheme"),
    ("https://healthcare.googleapis.com:8443/v1/x", GOOGLE, "allowlist"),
    ("https://healthcare.googleapis.com.evil.example/v1/x", GOOGLE, "allowlist"),
    ("https://healthcare.googleapis.com/v1/x y", GOOGLE, "whitespace"),
    ("https://healthcare.googleapis.com\\@evil.example/", GOOGLE, "whitespace"),
    ("", GOOGLE, "empty"),
    (URI.replace("dicomStores/s", "dicomStores/other"), PINNED, "allowlist"),
    (URI.replace("dicomStores/s", "dicomStores/s2"), PINNED, "allowlist"),
    (URI.replace("dicomStores/s/", "dicomStores/s/../other/"), PINNED, "dot segments"),
    (URI.replace("dicomStores/s/", "dicomStores/s/%2e%2e/other/"), PINNED, "encoded"),
    ("http://127.0.0.1:8081/v1/x", ("127.0.0.1:8080",), "allowlist"),
])
def test_refused(uri, allowed, reason):
    with pytest.raises(Unprocessable) as caught:
        check_uri(uri, allowed)
    assert reason in caught.value.detail
    assert caught.value.status == 422


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("127.0.0.1", True), ("127.255.0.9", True), ("::1", True),
    ("[::1]", True), ("10.0.0.1", False), ("localhost.evil.example", False), ("", False),
])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("uri", "root", "expected"), [
    (URI, "http://127.0.0.1:5000", URI.replace("https://healthcare.googleapis.com",
                                               "http://127.0.0.1:5000")),
    (URI, "http://127.0.0.1:5000/prefix/", URI.replace("https://healthcare.googleapis.com",
                                                       "http://127.0.0.1:5000/prefix")),
    (URI, "https://healthcare.googleapis.com", URI),
    ("https://other.example/v1/x?a=1", "http://127.0.0.1:5000", "https://other.example/v1/x?a=1"),
    (URI + "?x=1", "http://127.0.0.1:1", "http://127.0.0.1:1" + URI[33:] + "?x=1"),
])
def test_reroot(uri, root, expected):
    assert reroot(uri, root) == expected
