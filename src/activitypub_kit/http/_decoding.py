"""Streamed, size-bounded decoding of response bodies (``gzip``, ``deflate``, identity).

The size limit counts decoded bytes and every stage of a layered encoding
(``Content-Encoding: gzip, gzip``) is bounded on its own, so a compression bomb stops as
soon as its output passes the limit: memory stays proportional to the limit, never to the
bomb.
"""

from __future__ import annotations

import zlib

from activitypub_kit.errors import InvalidResponseError, ResponseTooLargeError

#: What the client advertises in ``Accept-Encoding``: only what it can decode with bounds.
ACCEPT_ENCODING = "gzip, deflate"

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_OR_GZIP_WBITS = 32 + zlib.MAX_WBITS


class _Stage:
    """One decompression layer that never produces more than ``cap`` bytes in total."""

    def __init__(self, encoding: str, cap: int, where: str) -> None:
        self.encoding = encoding
        self.cap = cap
        self.where = where
        self.produced = 0
        self._raw_fallback = encoding == "deflate"
        self._started = False
        wbits = _GZIP_WBITS if encoding in ("gzip", "x-gzip") else _ZLIB_OR_GZIP_WBITS
        self._wbits = wbits
        self._obj = zlib.decompressobj(wbits)

    def _too_large(self) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"response from {self.where} is larger than {self.cap} bytes after decoding"
        )

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        while data:
            allowed = self.cap - self.produced + 1
            try:
                chunk = self._obj.decompress(data, allowed)
            except zlib.error as exc:
                if self._raw_fallback and not self._started:
                    # Some servers send raw DEFLATE without the zlib wrapper.
                    self._raw_fallback = False
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise InvalidResponseError(
                    f"response from {self.where} is not valid {self.encoding}: {exc}"
                ) from exc
            self._started = True
            self.produced += len(chunk)
            if self.produced > self.cap or self._obj.unconsumed_tail:
                raise self._too_large()
            out += chunk
            if self._obj.eof and self._obj.unused_data:
                # Concatenated members (RFC 1952 allows several): start the next one.
                data = self._obj.unused_data
                self._obj = zlib.decompressobj(self._wbits)
                self._started = False
            else:
                data = b""
        return bytes(out)

    def flush(self) -> bytes:
        chunk = self._obj.flush()
        self.produced += len(chunk)
        if self.produced > self.cap:
            raise self._too_large()
        return chunk


class BoundedDecoder:
    """Decode a body encoded with ``encodings`` (in the order the server applied them).

    Raises :class:`ResponseTooLargeError` as soon as the decoded output, or the raw input,
    exceeds ``limit`` bytes; :class:`InvalidResponseError` for an unknown encoding or bad data.
    """

    def __init__(self, content_encoding: str, limit: int, where: str) -> None:
        self.limit = limit
        self.where = where
        self.raw_size = 0
        self.size = 0
        encodings = [e.strip().lower() for e in content_encoding.split(",") if e.strip()]
        encodings = [e for e in encodings if e != "identity"]
        for encoding in encodings:
            if encoding not in ("gzip", "x-gzip", "deflate"):
                raise InvalidResponseError(
                    f"response from {where} uses content encoding {encoding!r},"
                    f" which was not asked for"
                )
        # An intermediate layer may be slightly larger than the final output (stored
        # blocks); give it a little slack so only the last layer enforces the exact limit.
        slack = limit + limit // 64 + 4096
        stages = list(reversed(encodings))
        self._stages = [
            _Stage(encoding, limit if i == len(stages) - 1 else slack, where)
            for i, encoding in enumerate(stages)
        ]

    @property
    def decodes(self) -> bool:
        """Whether any decoding happens (the body was content-encoded)."""
        return bool(self._stages)

    def feed(self, data: bytes) -> bytes:
        """Decode the next raw chunk and return the output it completes."""
        self.raw_size += len(data)
        if self.raw_size > self.limit:
            raise ResponseTooLargeError(
                f"response from {self.where} is larger than {self.limit} bytes"
            )
        for stage in self._stages:
            data = stage.feed(data)
        self.size += len(data)
        return data

    def finish(self) -> bytes:
        """Flush every layer and return the last output."""
        tail = b""
        for stage in self._stages:
            tail = stage.feed(tail) if tail else b""
            tail += stage.flush()
        self.size += len(tail)
        return tail


__all__ = ["ACCEPT_ENCODING", "BoundedDecoder"]
