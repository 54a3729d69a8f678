"""Bounded decoding: any split of the stream decodes the same; the limit always holds."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitypub_kit.errors import InvalidResponseError, ResponseTooLargeError
from activitypub_kit.http._decoding import BoundedDecoder


def encode(data: bytes, encodings: list[str]) -> bytes:
    for encoding in encodings:
        data = gzip.compress(data) if encoding == "gzip" else zlib.compress(data)
    return data


def decode_in_chunks(raw: bytes, header: str, limit: int, cuts: list[int]) -> bytes:
    decoder = BoundedDecoder(header, limit, "test")
    out = []
    start = 0
    for cut in [*sorted({c % (len(raw) + 1) for c in cuts}), len(raw)]:
        out.append(decoder.feed(raw[start:cut]))
        start = cut
    out.append(decoder.finish())
    return b"".join(out)


@settings(max_examples=60)
@given(
    data=st.binary(max_size=4000),
    encodings=st.lists(st.sampled_from(["gzip", "deflate"]), min_size=1, max_size=3),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
)
def test_any_chunking_decodes_to_the_original(
    data: bytes, encodings: list[str], cuts: list[int]
) -> None:
    raw = encode(data, encodings)
    header = ", ".join(encodings)
    assert decode_in_chunks(raw, header, 1 << 20, cuts) == data


@settings(max_examples=40)
@given(size=st.integers(min_value=1, max_value=200_000), limit=st.integers(1, 50_000))
def test_the_limit_is_exact_after_decoding(size: int, limit: int) -> None:
    raw = gzip.compress(b"a" * size)
    limit = max(limit, len(raw))  # the raw body itself must fit for decoding to matter
    if size <= limit:
        assert decode_in_chunks(raw, "gzip", limit, []) == b"a" * size
    else:
        with pytest.raises(ResponseTooLargeError, match=f"larger than {limit} bytes after"):
            decode_in_chunks(raw, "gzip", limit, [])


def test_raw_input_is_capped_too() -> None:
    decoder = BoundedDecoder("", 10, "test")
    decoder.feed(b"x" * 10)
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(b"y")


def test_truncated_or_corrupt_streams() -> None:
    with pytest.raises(InvalidResponseError, match="not valid gzip"):
        BoundedDecoder("gzip", 100, "test").feed(b"\x1f\x8bnot really")
    with pytest.raises(InvalidResponseError, match="'compress'"):
        BoundedDecoder("compress", 100, "test")


def test_concatenated_gzip_members() -> None:
    raw = gzip.compress(b"hello ") + gzip.compress(b"world")
    assert decode_in_chunks(raw, "gzip", 100, [3, 25]) == b"hello world"
