"""From aiohttp's response to httpx's: the bounded body read and the response object.

Kept apart from :mod:`activitypub_kit.http._client` so that the client reads as the list of
rules it applies; this module is the mechanics of one exchange's answer.
"""

from __future__ import annotations

from typing import Final

import aiohttp
import httpx

from activitypub_kit._body import BoundedChunks
from activitypub_kit._deprecated import deprecated_names
from activitypub_kit.errors import ResponseTooLargeError
from activitypub_kit.http._decoding import BoundedDecoder

_DECODED_AWAY: Final = (b"content-encoding", b"content-length")


def build_response(
    request: httpx.Request,
    status: int,
    reason: str | None,
    raw_headers: tuple[tuple[bytes, bytes], ...],
    body: bytes,
    *,
    decoded: bool,
) -> httpx.Response:
    """An ``httpx.Response`` holding ``body`` (already decoded when ``decoded``).

    A decoded body no longer matches the ``Content-Encoding``/``Content-Length`` it came
    with, so those two headers are dropped from a decoded response.
    """
    if decoded:
        raw_headers = tuple((k, v) for k, v in raw_headers if k.lower() not in _DECODED_AWAY)
    extensions: dict[str, object] = {"http_version": b"HTTP/1.1"}
    if reason:
        extensions["reason_phrase"] = reason.encode("latin-1", "replace")
    response = httpx.Response(
        status,
        headers=raw_headers,
        stream=httpx.ByteStream(body),
        request=request,
        extensions=extensions,
    )
    _set_content(response, body)
    return response


def _stores_content_directly() -> bool:
    """Whether this httpx keeps a read body in ``Response._content`` (checked once)."""
    probe = httpx.Response(200, stream=httpx.ByteStream(b"probe"))
    probe._content = b"probe"
    try:
        return probe.content == b"probe"
    except httpx.ResponseNotRead:  # pragma: no cover - a future httpx layout
        return False


_FAST_CONTENT: Final = _stores_content_directly()


def _set_content(response: httpx.Response, body: bytes) -> None:
    """Give ``response`` its already decoded body.

    httpx's generic ``read()`` runs the body through its decoder and chunker pipeline,
    which costs more than the rest of a small exchange; the body here is complete and
    decoded, so it is stored the way ``read()`` would store it.  Should httpx ever store
    it differently (checked once at import), the public ``read()`` is used instead.
    """
    if _FAST_CONTENT:
        response._content = body
        response.is_stream_consumed = True
        response.is_closed = True
    else:  # pragma: no cover - a future httpx layout
        response.read()


async def read_response_body(
    raw: aiohttp.ClientResponse, limit: int, where: str
) -> tuple[bytes, bool]:
    """Read at most ``limit`` decoded bytes of a response; the body and whether it was decoded.

    Past the limit: :class:`~activitypub_kit.errors.ResponseTooLargeError` (a declared
    ``Content-Length`` before any read).  Undecoded chunks are counted by
    :class:`~activitypub_kit._body.BoundedChunks`, decoded ones by the decoder.
    """
    encoding = raw.headers.get("Content-Encoding", "")
    length = raw.content_length
    if not encoding or encoding.strip().lower() == "identity":
        if length is not None:
            if length > limit:
                raise ResponseTooLargeError(
                    f"response from {where} is larger than {limit} bytes (Content-Length: {length})"
                )
            return await raw.read(), False

        def too_large(_size: int) -> ResponseTooLargeError:
            return ResponseTooLargeError(f"response from {where} is larger than {limit} bytes")

        chunks = BoundedChunks(limit, too_large)
        async for chunk in raw.content.iter_any():
            chunks.add(chunk)
        return chunks.body(), False
    decoder = BoundedDecoder(encoding, limit, where)
    out = [decoder.feed(chunk) async for chunk in raw.content.iter_any()]
    out.append(decoder.finish())
    return b"".join(out), decoder.decodes


#: ``read_body`` was listed by the old public path ``activitypub_kit.http.wire``.
__getattr__ = deprecated_names(
    __name__,
    {"read_body": ("nothing public (internal, now read_response_body)", read_response_body)},
)

__all__ = ["build_response", "read_response_body"]
