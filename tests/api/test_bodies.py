"""Bodies read as a stream against the limit (service.api.bodies), without a server."""

from __future__ import annotations

import gzip
import io
import zlib

import pytest

from service.api.bodies import READ_CHUNK, read_body
from service.errors import InvalidDump, PayloadTooLarge, RequestTimeout, UnsupportedMediaType

LIMIT = 3 * READ_CHUNK + 17


class CountingStream(io.BytesIO):
    """A body arriving in small pieces, as from a socket, that counts what was read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(min(size if size is not None and size >= 0 else 4096, 4096))
        self.read_bytes += len(data)
        return data


def bomb(inflated: int) -> bytes:
    """gzip of `inflated` zero bytes, compressed piece by piece."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(READ_CHUNK)
    parts = [deflater.compress(zeros) for _ in range(inflated // READ_CHUNK)]
    return b"".join([*parts, deflater.flush()])


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_body_of_exactly_the_limit_is_read_whole(gzipped: bool) -> None:
    data = bytes(range(256)) * (LIMIT // 256) + b"x" * (LIMIT % 256)
    sent = gzip.compress(data) if gzipped else data
    assert read_body(io.BytesIO(sent), LIMIT, gzipped=gzipped) == data


@pytest.mark.parametrize("gzipped", [False, True])
def test_one_byte_over_the_limit_is_413(gzipped: bool) -> None:
    data = b"y" * (LIMIT + 1)
    with pytest.raises(PayloadTooLarge):
        read_body(io.BytesIO(gzip.compress(data) if gzipped else data), LIMIT, gzipped=gzipped)


def test_a_bomb_is_refused_after_inflating_the_limit_not_the_bomb() -> None:
    compressed = bomb(256 * READ_CHUNK)  # 256 MiB of zeros in ~250 KB
    stream = CountingStream(compressed)
    with pytest.raises(PayloadTooLarge, match="decompressed body exceeds"):
        read_body(stream, LIMIT, gzipped=True)
    # Inflating stopped at the limit: most of the compressed body was never inflated.
    assert stream.read_bytes <= len(compressed) // 16


def test_gzip_members_are_concatenated_and_a_truncated_one_refused() -> None:
    assert read_body(io.BytesIO(gzip.compress(b"[1,") + gzip.compress(b"2]")), LIMIT,
                     gzipped=True) == b"[1,2]"
    with pytest.raises(UnsupportedMediaType, match="truncated"):
        read_body(io.BytesIO(gzip.compress(b"[1,2]")[:-5]), LIMIT, gzipped=True)
    with pytest.raises(UnsupportedMediaType, match="not valid gzip"):
        read_body(io.BytesIO(b"[1,2]"), LIMIT, gzipped=True)


class FailingStream(io.RawIOBase):
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def read(self, size: int = -1) -> bytes:
        raise self.error


@pytest.mark.parametrize(("error", "problem"), [
    (TimeoutError(), RequestTimeout),
    (ConnectionResetError(), InvalidDump),
])
def test_a_client_too_slow_or_gone_is_a_client_error(error: BaseException,
                                                     problem: type) -> None:
    with pytest.raises(problem):
        read_body(FailingStream(error), LIMIT)
