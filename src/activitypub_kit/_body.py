"""The one bounded body collector: chunks accumulated up to a byte limit, then refused.

Both ends of the library read a body of unknown size from the network: the ASGI side the
body of a request (an inbox ``POST``,
:func:`~activitypub_kit.server._asgi.read_request_body`), the HTTP client the body of a
response (:func:`~activitypub_kit.http._wire.read_response_body`).  Each feeds its chunks to
a :class:`BoundedChunks`, which counts them and raises the caller's own typed error (``413``
``PayloadTooLargeError`` on the server side, ``ResponseTooLargeError`` on the client side)
the moment the total passes the limit, before the chunk is kept.
"""

from __future__ import annotations

from collections.abc import Callable

from activitypub_kit.errors import ActivityPubError


class BoundedChunks:
    """Chunks of one body, at most ``limit`` bytes in all.

    ``too_large(size)`` builds the error raised when a chunk takes the total ``size`` past
    ``limit``; nothing past the limit is kept.  :meth:`body` joins what was collected (a
    single chunk is returned as it is, without a copy).
    """

    __slots__ = ("_parts", "_too_large", "limit", "size")

    def __init__(self, limit: int, too_large: Callable[[int], ActivityPubError]) -> None:
        self.limit = limit
        #: Bytes collected so far.
        self.size = 0
        self._parts: list[bytes] = []
        self._too_large = too_large

    def add(self, chunk: bytes) -> None:
        """Keep ``chunk``, or raise the caller's error if it takes the body past the limit."""
        self.size += len(chunk)
        if self.size > self.limit:
            raise self._too_large(self.size)
        if chunk:
            self._parts.append(chunk)

    def body(self) -> bytes:
        """Everything collected, in order."""
        parts = self._parts
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)


__all__ = ["BoundedChunks"]
