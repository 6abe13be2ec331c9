"""multipart/related parsing: boundaries quoted or not, part headers, gzip parts, truncation."""

from __future__ import annotations

import gzip

import pytest

from service.bulkdata.multipart_reader import MultipartError, parse_media_type, parse_multipart

PAYLOAD = bytes(range(256)) * 8 + b"\r\n--not-the-boundary\r\n"


def body(boundary: str, parts: list[tuple[dict[str, str], bytes]], preamble: bytes = b"") -> bytes:
    out = [preamble]
    for headers, payload in parts:
        out.append(f"--{boundary}\r\n".encode())
        out.extend(f"{name}: {value}\r\n".encode() for name, value in headers.items())
        out.append(b"\r\n" + payload + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


@pytest.mark.parametrize("content_type", [
    'multipart/related; type="application/octet-stream"; boundary="b:o;u=n,d"',
    'Multipart/Related; boundary="b:o;u=n,d"; type=application/octet-stream',
])
def test_quoted_boundary_with_separators(content_type):
    message = body("b:o;u=n,d", [({"Content-Type": "application/octet-stream"}, PAYLOAD)])
    [part] = parse_multipart(message, content_type)
    assert bytes(part.body) == PAYLOAD
    assert part.content_type == "application/octet-stream"


def test_unquoted_boundary_several_parts_and_preamble():
    message = body("abc123", [({"Content-Type": "application/octet-stream",
                                "Content-Location": "/frames/1"}, b"one"),
                               ({}, b""), ({"content-type": "x/y"}, PAYLOAD)],
                   preamble=b"ignored preamble\r\n")
    parts = parse_multipart(message, "multipart/related; boundary=abc123")
    assert [bytes(part.body) for part in parts] == [b"one", b"", PAYLOAD]
    assert parts[0].headers["content-location"] == "/frames/1"
    assert parts[1].headers == {}


def test_parts_are_views_on_the_body_not_copies():
    message = body("q", [({}, PAYLOAD)])
    [part] = parse_multipart(message, "multipart/related; boundary=q")
    assert isinstance(part.body, memoryview)
    assert part.body.obj is message


def test_gzip_part_is_decompressed():
    message = body("g", [({"Content-Encoding": "gzip"}, gzip.compress(PAYLOAD))])
    [part] = parse_multipart(message, "multipart/related; boundary=g")
    assert bytes(part.body) == PAYLOAD


@pytest.mark.parametrize("cut", [10, 60, -20, -4])
def test_truncated_body_is_an_error(cut):
    message = body("t", [({"Content-Type": "application/octet-stream"}, PAYLOAD)])
    with pytest.raises(MultipartError):
        parse_multipart(message[:cut], "multipart/related; boundary=t")


@pytest.mark.parametrize(("content_type", "message"), [
    ("multipart/related", b"--x\r\n\r\nA\r\n--x--"),
    ("application/octet-stream; boundary=x", b"--x\r\n\r\nA\r\n--x--"),
    ("multipart/related; boundary=x", b"no delimiter at all"),
    ("multipart/related; boundary=x", b"--x\r\nbroken header line\r\n\r\nA\r\n--x--"),
    ("multipart/related; boundary=x", b"--x\r\nContent-Encoding: gzip\r\n\r\nnot gzip\r\n--x--"),
])
def test_malformed(content_type, message):
    with pytest.raises(MultipartError):
        parse_multipart(message, content_type)


def test_parse_media_type():
    assert parse_media_type(
        'multipart/related; type="application/octet-stream"; transfer-syntax=*; boundary=a'
    ) == ("multipart/related", {"type": "application/octet-stream", "transfer-syntax": "*",
                                "boundary": "a"})
    assert parse_media_type("application/octet-stream") == ("application/octet-stream", {})
