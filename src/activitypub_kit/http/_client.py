"""The one outbound HTTP client: httpx requests and responses over a guarded aiohttp pool.

Callers build and receive :mod:`httpx` objects (``httpx.Request``, ``httpx.Response``,
any ``httpx.Auth`` for signing).  Underneath, requests travel through an aiohttp
connection pool whose resolver is the SSRF guard; the httpx pool was measured to fall to a
few hundred requests per second under concurrency (see ``benchmarks/http_client.py``).

Every request obeys :class:`~activitypub_kit.http.HttpSettings`: URL and address rules,
connect/read/total timeouts, a body limit counted after decompression, redirects (GET and
HEAD only) re-checked hop by hop with a count limit, loop detection and no scheme change,
and the active :class:`~activitypub_kit.http.FetchBudget`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, Final

import aiohttp
import certifi
import httpx
import yarl
from multidict import CIMultiDict

from activitypub_kit._cache import BoundedCache
from activitypub_kit.errors import (
    ConnectionFailedError,
    FetchError,
    FetchTimeoutError,
    RedirectLoopError,
    SchemeDowngradeError,
    TooManyRedirectsError,
    UrlRefusedError,
)
from activitypub_kit.http._budget import current_budget
from activitypub_kit.http._decoding import ACCEPT_ENCODING
from activitypub_kit.http._dns import DnsResolver, GuardedResolver, SystemResolver
from activitypub_kit.http._settings import HttpSettings
from activitypub_kit.http._timers import use_lazy_read_timeout
from activitypub_kit.http._urls import check_url, same_origin, shown
from activitypub_kit.http._wire import build_response, read_response_body

#: Statuses whose ``Location`` is followed (for GET and HEAD).
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
#: Caller headers that are not carried to another origin by a redirect.
_CREDENTIAL_HEADERS: Final = frozenset({"authorization", "cookie", "proxy-authorization"})
_TARGET_CACHE_SIZE: Final = 4096
_HEADER_CACHE_SIZE: Final = 1024

HeaderInput = Mapping[str, str] | Sequence[tuple[str, str]] | httpx.Headers


class _UseDefault:
    """Marker: use the client's default ``auth``."""


USE_CLIENT_AUTH: Final = _UseDefault()


class _Target:
    """A checked URL in both parsers' forms, with derived texts (cached per URL text)."""

    __slots__ = ("host_header", "shown", "url", "yarl")

    def __init__(self, url: httpx.URL, yarl_url: yarl.URL) -> None:
        self.url = url
        self.yarl = yarl_url
        self.shown = shown(url)
        self.host_header = url.netloc.decode("ascii")


class HttpClient:
    """Make outbound HTTP requests under the SSRF guard and the limits of ``settings``.

    ``resolver`` answers DNS questions (inject a
    :class:`~activitypub_kit.http.StaticResolver` in tests); ``auth`` is the default
    ``httpx.Auth`` (for example the instance actor's request signer), overridable per
    request.  Use as ``async with HttpClient() as client:`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        settings: HttpSettings | None = None,
        *,
        resolver: DnsResolver | None = None,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings or HttpSettings()
        self.resolver: DnsResolver = resolver or SystemResolver()
        self.auth = auth
        defaults = {
            "user-agent": ("User-Agent", self.settings.user_agent),
            "accept-encoding": ("Accept-Encoding", ACCEPT_ENCODING),
            "accept": ("Accept", "*/*"),
        }
        for name, value in (headers or {}).items():
            defaults[name.lower()] = (name, value)
        self._default_headers = defaults
        self._default_header_list = list(defaults.values())
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(
            total=self.settings.total_timeout,
            sock_connect=self.settings.connect_timeout,
            sock_read=self.settings.read_timeout,
        )
        self._targets: BoundedCache[str, _Target] = BoundedCache(_TARGET_CACHE_SIZE)
        self._header_cache: BoundedCache[
            tuple[str, str | None, tuple[tuple[str, str], ...] | None],
            tuple[httpx.Headers, CIMultiDict[str]],
        ] = BoundedCache(_HEADER_CACHE_SIZE)

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _open(self) -> aiohttp.ClientSession:
        settings = self.settings
        context: ssl.SSLContext | bool
        if isinstance(settings.verify, ssl.SSLContext):
            context = settings.verify
        elif settings.verify:
            context = ssl.create_default_context(cafile=certifi.where())
        else:
            context = False
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self.resolver, settings.address_policy),
            limit=settings.max_connections,
            limit_per_host=settings.max_connections_per_host,
            ttl_dns_cache=max(1, round(settings.dns_cache_ttl)),
            ssl=context,
        )
        use_lazy_read_timeout(connector)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,  # an environment proxy would resolve names past the guard
            auto_decompress=False,
        )
        return self._session

    # -- public API ----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: HeaderInput | None = None,
        content: bytes | None = None,
        auth: httpx.Auth | _UseDefault | None = USE_CLIENT_AUTH,
        follow_redirects: bool | None = None,
        max_body_size: int | None = None,
        total_timeout: float | None = None,
    ) -> httpx.Response:
        """Send a request and return the response with its body read (any status).

        Redirects are followed for GET and HEAD (``follow_redirects`` defaults to that)
        and never for other methods.  ``max_body_size`` and ``total_timeout`` (seconds)
        override the settings for this request.  Raises a
        :class:`~activitypub_kit.errors.FetchError` subclass when a rule refuses the
        request or the exchange fails; an HTTP error status is returned, not raised.
        """
        method = method.upper()
        follow = method in ("GET", "HEAD") if follow_redirects is None else follow_redirects
        if follow and method not in ("GET", "HEAD"):
            raise ValueError("redirects are followed only for GET and HEAD")
        chosen_auth = self.auth if isinstance(auth, _UseDefault) else auth
        limit = max_body_size or self.settings.max_body_size
        total = total_timeout or self.settings.total_timeout
        # 1 ms of slack lets the first hop use the prebuilt timeout (aiohttp enforces it).
        deadline = asyncio.get_running_loop().time() + total + 1e-3
        target = self._target(url)
        budget = current_budget()
        history: list[httpx.Response] = []
        visited: set[str] | None = None
        length = None
        if content is not None or method in ("POST", "PUT", "PATCH"):
            length = str(len(content or b""))
        while True:
            if budget is not None:
                budget.spend(target.shown)
            base, wire_headers = self._prepared_headers(target, headers, length)
            request = httpx.Request(
                method, target.url, headers=base, stream=httpx.ByteStream(content or b"")
            )
            request.read()
            if chosen_auth is None:
                response = await self._send(request, target, limit, deadline, total, wire_headers)
            else:
                response = await self._exchange(
                    request, target, chosen_auth, limit, deadline, total
                )
            if not follow or response.status_code not in REDIRECT_STATUSES:
                break
            location = response.headers.get("location")
            if location is None:
                break
            if len(history) >= self.settings.max_redirects:
                raise TooManyRedirectsError(
                    f"{target.shown} redirected once more after"
                    f" {self.settings.max_redirects} redirects"
                )
            previous = target
            target = self._redirect_target(previous.url, location)
            if visited is None:
                visited = {previous.shown}
            if target.shown in visited:
                raise RedirectLoopError(
                    f"redirect loop: {previous.shown} points back to {target.shown}"
                )
            visited.add(target.shown)
            if headers is not None and not same_origin(previous.url, target.url):
                headers = [
                    (k, v)
                    for k, v in self._headers(headers)
                    if k.lower() not in _CREDENTIAL_HEADERS
                ]
            history.append(response)
        if history:
            response.history = history
        return response

    async def send(
        self,
        request: httpx.Request,
        *,
        auth: httpx.Auth | _UseDefault | None = USE_CLIENT_AUTH,
        follow_redirects: bool | None = None,
        max_body_size: int | None = None,
        total_timeout: float | None = None,
    ) -> httpx.Response:
        """Send a prepared ``httpx.Request`` (its method, URL, headers and bytes body)."""
        try:
            content = request.content
        except httpx.RequestNotRead as exc:
            raise ValueError("send() needs a request whose body is bytes, not a stream") from exc
        return await self.request(
            request.method,
            request.url,
            headers=[(k, v) for k, v in request.headers.multi_items() if k.lower() != "host"],
            content=content or None,
            auth=auth,
            follow_redirects=follow_redirects,
            max_body_size=max_body_size,
            total_timeout=total_timeout,
        )

    def get(
        self,
        url: str | httpx.URL,
        *,
        headers: HeaderInput | None = None,
        auth: httpx.Auth | _UseDefault | None = USE_CLIENT_AUTH,
        follow_redirects: bool | None = None,
        max_body_size: int | None = None,
        total_timeout: float | None = None,
    ) -> Coroutine[Any, Any, httpx.Response]:
        """``await client.get(url, ...)``: :meth:`request` with ``GET``."""
        return self.request(
            "GET",
            url,
            headers=headers,
            auth=auth,
            follow_redirects=follow_redirects,
            max_body_size=max_body_size,
            total_timeout=total_timeout,
        )

    def post(
        self,
        url: str | httpx.URL,
        content: bytes,
        *,
        headers: HeaderInput | None = None,
        auth: httpx.Auth | _UseDefault | None = USE_CLIENT_AUTH,
        max_body_size: int | None = None,
        total_timeout: float | None = None,
    ) -> Coroutine[Any, Any, httpx.Response]:
        """``await client.post(url, body, ...)``: :meth:`request` with ``POST``.

        (``get`` and ``post`` return the coroutine of :meth:`request` directly rather than
        awaiting it, which spares one coroutine frame on the delivery hot path.)
        """
        return self.request(
            "POST",
            url,
            headers=headers,
            content=content,
            auth=auth,
            max_body_size=max_body_size,
            total_timeout=total_timeout,
        )

    def check(self, url: str | httpx.URL) -> httpx.URL:
        """Apply the URL rules to ``url`` without connecting; return it parsed."""
        return self._target(url).url

    # -- internals -------------------------------------------------------------------------

    def _prepared_headers(
        self, target: _Target, headers: HeaderInput | None, length: str | None
    ) -> tuple[httpx.Headers, CIMultiDict[str]]:
        """The request headers, built once per distinct set (never mutated afterwards).

        Normalising headers into ``httpx.Headers`` is a large share of a small request's
        cost; delivery repeats the same few header sets (one activity fanned out to many
        inboxes of a host has one length), so they are kept (bounded).
        """
        if headers is None:
            items: tuple[tuple[str, str], ...] | None = None
        elif isinstance(headers, httpx.Headers):
            items = tuple(headers.multi_items())
        elif isinstance(headers, Mapping):
            items = tuple(headers.items())
        else:
            items = tuple(headers)
        key = (target.host_header, length, items)
        prepared = self._header_cache.get(key)
        if prepared is None:
            wire = [("Host", target.host_header), *self._headers(headers)]
            if length is not None:
                wire.append(("Content-Length", length))
                if not any(name.lower() == "content-type" for name, _ in wire):
                    # What aiohttp would add; named here so that signers see it too.
                    wire.append(("Content-Type", "application/octet-stream"))
            prepared = (httpx.Headers(wire), CIMultiDict(wire))
            self._header_cache.set(key, prepared)
        return prepared

    def _headers(self, headers: HeaderInput | None) -> list[tuple[str, str]]:
        if headers is None:
            return self._default_header_list
        merged = dict(self._default_headers)
        items = headers.multi_items() if isinstance(headers, httpx.Headers) else headers
        pairs = items.items() if isinstance(items, Mapping) else items
        extra: list[tuple[str, str]] = []
        for name, value in pairs:
            lower = name.lower()
            if lower in merged:
                merged[lower] = (name, value)
            else:
                extra.append((name, value))
        return [*merged.values(), *extra]

    def _target(self, url: str | httpx.URL) -> _Target:
        key = url if isinstance(url, str) else str(url)
        target = self._targets.get(key)
        if target is None:
            settings = self.settings
            parsed = check_url(url, schemes=settings.schemes, policy=settings.address_policy)
            yarl_url = yarl.URL(str(parsed), encoded=True)
            host = parsed.raw_host.decode("ascii", "replace").lower()
            if (yarl_url.host or "").lower() != host:
                raise UrlRefusedError(f"refused {shown(parsed)}: the host is ambiguous")
            target = _Target(parsed, yarl_url)
            self._targets.set(key, target)
        return target

    def _redirect_target(self, current: httpx.URL, location: str) -> _Target:
        try:
            following = current.join(location.strip())
        except httpx.InvalidURL as exc:
            raise UrlRefusedError(f"{shown(current)} redirected to an invalid URL: {exc}") from exc
        if following.scheme != current.scheme:
            raise SchemeDowngradeError(
                f"{shown(current)} redirected from {current.scheme} to {following.scheme}"
                f" ({str(following)[:200]})"
            )
        return self._target(following)

    async def _exchange(
        self,
        request: httpx.Request,
        target: _Target,
        auth: httpx.Auth,
        limit: int,
        deadline: float,
        total: float,
    ) -> httpx.Response:
        flow = auth.async_auth_flow(request)
        try:
            outgoing = await flow.__anext__()
            while True:
                if outgoing.url is not target.url:
                    target = self._target(outgoing.url)
                response = await self._send(outgoing, target, limit, deadline, total)
                try:
                    outgoing = await flow.asend(response)
                except StopAsyncIteration:
                    return response
        finally:
            await flow.aclose()

    async def _send(
        self,
        request: httpx.Request,
        target: _Target,
        limit: int,
        deadline: float,
        total: float,
        wire_headers: CIMultiDict[str] | None = None,
    ) -> httpx.Response:
        session = self._session or self._open()
        settings = self.settings
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise FetchTimeoutError(f"{request.method} {target.shown}: took longer than {total} s")
        if total == settings.total_timeout and remaining >= total:
            timeout = self._timeout  # the session default, prebuilt
        else:
            timeout = aiohttp.ClientTimeout(
                total=remaining,
                sock_connect=settings.connect_timeout,
                sock_read=settings.read_timeout,
            )
        where = target.shown
        try:
            async with session.request(
                request.method,
                target.yarl,
                headers=request.headers.multi_items() if wire_headers is None else wire_headers,
                data=request.content or None,
                allow_redirects=False,
                timeout=timeout,
            ) as raw:
                length = raw.content_length
                if request.method == "HEAD":
                    body, decoded = b"", False  # Content-Length describes a body not sent
                elif (
                    length is not None and length <= limit and "Content-Encoding" not in raw.headers
                ):
                    body, decoded = await raw.read(), False  # the common case, inline
                else:
                    body, decoded = await read_response_body(raw, limit, where)
                status, reason, raw_headers = raw.status, raw.reason, raw.raw_headers
        except FetchError:
            raise
        except aiohttp.ConnectionTimeoutError as exc:
            raise FetchTimeoutError(
                f"{request.method} {where}: no connection within {settings.connect_timeout} s"
            ) from exc
        except aiohttp.SocketTimeoutError as exc:
            raise FetchTimeoutError(
                f"{request.method} {where}: no data for {settings.read_timeout} s"
            ) from exc
        except TimeoutError as exc:
            raise FetchTimeoutError(
                f"{request.method} {where}: took longer than {total} s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise ConnectionFailedError(
                f"{request.method} {where}: {type(exc).__name__}: {exc}"[:300]
            ) from exc
        return build_response(request, status, reason, raw_headers, body, decoded=decoded)


__all__ = ["REDIRECT_STATUSES", "USE_CLIENT_AUTH", "HttpClient"]
