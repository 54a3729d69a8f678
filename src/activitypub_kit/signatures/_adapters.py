"""Adapters between framework request types and :class:`HttpRequest`.

- :class:`HttpxSigner`: an ``httpx.Auth`` that signs every outgoing request (draft-cavage
  or RFC 9421), computing the body digest, optionally retrying once with the other scheme
  on a 400/401 answer;
- :func:`request_from_asgi`: the :class:`HttpRequest` of an ASGI scope and its body;
- :func:`request_from_httpx`: the :class:`HttpRequest` of an ``httpx.Request``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from activitypub_kit.signatures._algorithms import SigningKey
from activitypub_kit.signatures._dispatch import SignatureScheme, sign_request
from activitypub_kit.signatures._knock import FALLBACK_STATUSES
from activitypub_kit.signatures._message import HttpRequest

_SIGNING_HEADERS = ("signature", "signature-input", "date", "digest", "content-digest", "host")


def request_from_httpx(request: httpx.Request) -> HttpRequest:
    """The :class:`HttpRequest` of an ``httpx.Request`` (its body must be read)."""
    return HttpRequest(
        request.method, str(request.url), list(request.headers.multi_items()), request.content
    )


def request_from_asgi(
    scope: Mapping[str, Any],
    body: bytes,
    *,
    scheme: str | None = None,
    host: str | None = None,
) -> HttpRequest:
    """Build an :class:`HttpRequest` from an ASGI HTTP ``scope`` and the request body.

    The URL is rebuilt from ``raw_path`` (as sent, so percent-encoding is preserved),
    ``query_string`` and the ``Host`` header.  Behind a TLS-terminating proxy pass the
    public ``scheme`` (and ``host`` if the proxy rewrites it).
    """
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]
    if host is None:
        host = next((v for k, v in headers if k.lower() == "host"), None)
    if host is None:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope.get("path", "/"))
    query = scope.get("query_string", b"").decode("latin-1")
    url = f"{scheme or scope.get('scheme', 'http')}://{host}{path}"
    if query:
        url += f"?{query}"
    return HttpRequest(scope.get("method", "GET"), url, headers, body)


class HttpxSigner(httpx.Auth):
    """Sign outgoing httpx requests with draft-cavage or RFC 9421.

    ``clock`` returns the current Unix time (injectable for tests).  With
    ``fallback=True`` a 400/401 answer is retried once, signed with the other scheme;
    :attr:`last_scheme` tells which scheme produced the last response of a flow.
    """

    requires_request_body = True

    def __init__(
        self,
        key: SigningKey,
        key_id: str,
        *,
        scheme: SignatureScheme = SignatureScheme.CAVAGE,
        fallback: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.key_id = key_id
        self.scheme = scheme
        self.fallback = fallback
        self.clock = clock
        self.last_scheme: SignatureScheme | None = None

    def sign(self, request: httpx.Request, scheme: SignatureScheme) -> httpx.Request:
        """Add the signature headers of ``scheme`` to ``request`` (in place) and return it."""
        for name in ("signature", "signature-input"):
            if name in request.headers:
                del request.headers[name]
        signed = sign_request(
            request_from_httpx(request), self.key, self.key_id, scheme=scheme, now=self.clock()
        )
        for name in _SIGNING_HEADERS:
            value = signed.headers.get(name)
            if value is not None and request.headers.get(name) != value:
                request.headers[name] = value
        return request

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign, send, and (with ``fallback``) re-sign with the other scheme on 400/401."""
        response = yield self.sign(request, self.scheme)
        self.last_scheme = self.scheme
        if self.fallback and response.status_code in FALLBACK_STATUSES:
            yield self.sign(request, self.scheme.other)
            self.last_scheme = self.scheme.other


__all__ = ["request_from_httpx", "request_from_asgi", "HttpxSigner"]
