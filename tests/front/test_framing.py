"""Where a request ends, from its bytes as they arrive (service.front.framing).

Each request is fed whole, then again one byte at a time: the answer must not depend
on how the bytes were cut, and must not come before the last byte of the request.
"""

from __future__ import annotations

import pytest

from service.front.framing import Progress, RequestFraming

MAX_HEAD, MAX_BODY = 2000, 100
GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def chunked(*pieces: bytes, trailers: bytes = b"") -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n" + trailers + b"\r\n"


def post(headers: bytes, body: bytes) -> bytes:
    return b"POST /v1/dumps HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body


WHOLE = [
    pytest.param(GET, id="no body"),
    pytest.param(b"\r\n\r\n" + GET, id="blank lines before the request"),
    pytest.param(b"GET / HTTP/1.0\n\n", id="bare LF head"),
    pytest.param(post(b"Content-Length: 5\r\n", b"[1,2]"), id="content-length"),
    pytest.param(post(b"Content-Length: 0\r\n", b""), id="empty body"),
    pytest.param(post(b"Transfer-Encoding: chunked\r\n", chunked(b"[1,", b"2]")), id="chunked"),
    pytest.param(post(b"Transfer-Encoding: chunked\r\n", chunked(b"x" * 20, trailers=b"A: b\r\n")),
                 id="chunked with a trailer"),
    pytest.param(post(b"Transfer-Encoding: chunked\r\n", b"5;ext=1\r\n[1,2]\r\n0\r\n\r\n"),
                 id="chunk extension"),
    pytest.param(post(b"Content-Length: 100\r\n", b"x" * 100), id="body of exactly the limit"),
]


@pytest.mark.parametrize("request_bytes", WHOLE)
def test_a_whole_request_is_complete_at_its_last_byte_and_not_before(
        request_bytes: bytes) -> None:
    assert RequestFraming(MAX_HEAD, MAX_BODY).feed(request_bytes) is Progress.COMPLETE
    framing = RequestFraming(MAX_HEAD, MAX_BODY)
    progress = [framing.feed(request_bytes[i:i + 1]) for i in range(len(request_bytes))]
    assert progress == [Progress.MORE] * (len(request_bytes) - 1) + [Progress.COMPLETE]
    assert framing.received == len(request_bytes)


@pytest.mark.parametrize("partial", [
    pytest.param(b"", id="nothing"),
    pytest.param(b"\r\n", id="a blank line"),
    pytest.param(GET[:-2], id="head without its end"),
    pytest.param(post(b"Content-Length: 5\r\n", b"[1,2"), id="body short of its length"),
    pytest.param(post(b"Transfer-Encoding: chunked\r\n", chunked(b"[1,2]")[:-2]),
                 id="chunked without the final CRLF"),
    pytest.param(post(b"Transfer-Encoding: chunked\r\n", b"5\r\n[1,"), id="inside a chunk"),
])
def test_a_partial_request_wants_more(partial: bytes) -> None:
    assert RequestFraming(MAX_HEAD, MAX_BODY).feed(partial) is Progress.MORE


@pytest.mark.parametrize("request_bytes", [
    pytest.param(post(b"Transfer-Encoding: chunked\r\n", b"zz\r\n"), id="chunk size not hex"),
    pytest.param(post(b"Transfer-Encoding: chunked\r\n", b"2\r\nabXY"), id="chunk without CRLF"),
    pytest.param(post(b"Transfer-Encoding: gzip\r\n", b""), id="coding without chunked"),
    pytest.param(post(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b""),
                 id="both framings"),
    pytest.param(post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b""), id="two lengths"),
    pytest.param(post(b"Content-Length: -5\r\n", b""), id="negative length"),
    pytest.param(b"GET /\r\n\r\n", id="not an HTTP/1 request line"),
    pytest.param(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", id="header without colon"),
    pytest.param(b"GET /" + b"a" * MAX_HEAD + b" HTTP/1.1", id="head over the limit"),
])
def test_what_cannot_be_framed_goes_to_the_parser_at_once(request_bytes: bytes) -> None:
    assert RequestFraming(MAX_HEAD, MAX_BODY).feed(request_bytes) is Progress.HAND_OVER


@pytest.mark.parametrize("request_bytes", [
    pytest.param(post(b"Content-Length: 101\r\n", b""), id="content-length over the limit"),
    pytest.param(post(b"Transfer-Encoding: chunked\r\n", b"65\r\n"), id="a chunk over the limit"),
    pytest.param(post(b"Transfer-Encoding: chunked\r\n", b"32\r\n" + b"x" * 50 + b"\r\n33\r\n"),
                 id="chunks adding up over the limit"),
])
def test_a_body_announced_over_the_limit_is_too_large_before_it_arrives(
        request_bytes: bytes) -> None:
    assert RequestFraming(MAX_HEAD, MAX_BODY).feed(request_bytes) is Progress.TOO_LARGE


def test_expect_continue_is_noticed_on_http_1_1_only() -> None:
    framing = RequestFraming(MAX_HEAD, MAX_BODY)
    framing.feed(post(b"Expect: 100-Continue\r\nContent-Length: 5\r\n", b""))
    assert framing.expects_continue
    old = RequestFraming(MAX_HEAD, MAX_BODY)
    old.feed(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    assert not old.expects_continue


def test_a_request_has_started_at_its_first_byte_not_at_blank_lines() -> None:
    framing = RequestFraming(MAX_HEAD, MAX_BODY)
    framing.feed(b"\r\n")
    assert not framing.started
    framing.feed(b"G")
    assert framing.started
