"""The framework-neutral HTTP message values the signature code works on.

:class:`HttpRequest` and :class:`HttpResponse` hold a method or status, an absolute URL,
headers (ordered, repeatable, case-insensitive lookup) and the body bytes.  Adapters build
them from httpx, ASGI or anything else; the signing and verifying functions never see a
framework type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from urllib.parse import SplitResult, urlsplit

from activitypub_kit.errors import MalformedSignatureError

HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]]
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Headers:
    """Ordered HTTP header lines with case-insensitive lookup; repeated names are kept."""

    __slots__ = ("_index", "_items")

    def __init__(self, headers: HeaderInput | Headers = ()) -> None:
        items: list[tuple[str, str]]
        if isinstance(headers, Headers):
            items = list(headers._items)
        elif isinstance(headers, Mapping):
            items = [(str(k), str(v)) for k, v in headers.items()]
        else:
            items = [(str(k), str(v)) for k, v in headers]
        self._items: list[tuple[str, str]] = items
        index: dict[str, list[str]] = {}
        for name, value in items:
            index.setdefault(name.lower(), []).append(value)
        self._index = index

    def get(self, name: str, default: str | None = None) -> str | None:
        """The field value: every line of ``name`` joined with ``", "`` (RFC 9110 §5.3)."""
        values = self._index.get(name.lower())
        if not values:
            return default
        return values[0] if len(values) == 1 else ", ".join(values)

    @property
    def index(self) -> dict[str, list[str]]:
        """Lower-case name -> every line's value, in order (read-only by convention)."""
        return self._index

    def get_all(self, name: str) -> list[str]:
        """Every line of ``name``, in order."""
        return list(self._index.get(name.lower(), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def items(self) -> list[tuple[str, str]]:
        """All header lines as ``(name, value)`` pairs, in order."""
        return list(self._items)

    def replace(self, updates: Mapping[str, str]) -> Headers:
        """A copy where each name in ``updates`` has exactly that one value."""
        lowered = {k.lower() for k in updates}
        new = Headers.__new__(Headers)
        new._items = [(k, v) for k, v in self._items if k.lower() not in lowered]
        new._items.extend((str(k), str(v)) for k, v in updates.items())
        index = {k: v for k, v in self._index.items() if k not in lowered}
        for name, value in updates.items():
            index[name.lower()] = [str(value)]
        new._index = index
        return new

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    __hash__ = None  # type: ignore[assignment]


def _headers(value: HeaderInput | Headers) -> Headers:
    return value if isinstance(value, Headers) else Headers(value)


class HttpRequest:
    """A request as the signature code sees it.

    ``url`` is absolute (``https://host/path?query``).  ``request_target`` overrides the
    request-target when it is not origin-form (``*``, an authority for CONNECT, or an
    absolute URI sent to a proxy).  ``trailers`` holds trailer fields (``;tr``).
    Treat instances as immutable: :meth:`with_headers` returns a modified copy.
    """

    def __init__(
        self,
        method: str,
        url: str,
        headers: HeaderInput | Headers = (),
        body: bytes = b"",
        request_target: str | None = None,
        trailers: HeaderInput | Headers | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = _headers(headers)
        self.body = body
        self.request_target = request_target
        self.trailers = None if trailers is None else _headers(trailers)

    def __repr__(self) -> str:
        return f"HttpRequest({self.method!r}, {self.url!r}, {self.headers!r}, {self.body!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HttpRequest) and (
            (self.method, self.url, self.headers, self.body, self.request_target, self.trailers)
            == (other.method, other.url, other.headers, other.body, other.request_target,
                other.trailers)
        )  # fmt: skip

    __hash__ = None  # type: ignore[assignment]

    @cached_property
    def _split(self) -> SplitResult:
        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018  (validates the port)
        except ValueError as exc:
            raise MalformedSignatureError(f"request URL {self.url!r} is invalid: {exc}") from None
        if not parts.scheme or not parts.netloc:
            raise MalformedSignatureError(f"request URL {self.url!r} is not absolute")
        return parts

    @property
    def scheme(self) -> str:
        """The URL scheme, lower-case."""
        return self._split.scheme.lower()

    @cached_property
    def authority(self) -> str:
        """Host (lower-case) and port, the port omitted when it is the scheme's default."""
        parts = self._split
        host = (parts.hostname or "").lower()
        if ":" in host:
            host = f"[{host}]"
        port = parts.port
        if port is None or _DEFAULT_PORTS.get(parts.scheme.lower()) == port:
            return host
        return f"{host}:{port}"

    @property
    def path(self) -> str:
        """The URL path (``/`` when empty), as sent."""
        return self._split.path or "/"

    @property
    def query(self) -> str:
        """The query string without ``?`` (empty when absent)."""
        return self._split.query

    @cached_property
    def target(self) -> str:
        """The request-target: origin-form ``path?query`` unless overridden."""
        if self.request_target is not None:
            return self.request_target
        query = self._split.query
        return f"{self.path}?{query}" if query or self.url.endswith("?") else self.path

    def with_headers(self, updates: Mapping[str, str]) -> HttpRequest:
        """A copy with each header in ``updates`` set to exactly that value."""
        copy = HttpRequest(
            self.method,
            self.url,
            self.headers.replace(updates),
            self.body,
            self.request_target,
            self.trailers,
        )
        for cached in ("_split", "authority", "target"):  # same URL: reuse what was derived
            if cached in self.__dict__:
                copy.__dict__[cached] = self.__dict__[cached]
        return copy


class HttpResponse:
    """A response as the signature code sees it; ``request`` serves ``;req`` components."""

    def __init__(
        self,
        status: int,
        headers: HeaderInput | Headers = (),
        body: bytes = b"",
        request: HttpRequest | None = None,
        trailers: HeaderInput | Headers | None = None,
    ) -> None:
        self.status = status
        self.headers = _headers(headers)
        self.body = body
        self.request = request
        self.trailers = None if trailers is None else _headers(trailers)

    def __repr__(self) -> str:
        return f"HttpResponse({self.status!r}, {self.headers!r}, {self.body!r})"

    def with_headers(self, updates: Mapping[str, str]) -> HttpResponse:
        """A copy with each header in ``updates`` set to exactly that value."""
        return HttpResponse(
            self.status, self.headers.replace(updates), self.body, self.request, self.trailers
        )


HttpMessage = HttpRequest | HttpResponse

__all__ = ["Headers", "HeaderInput", "HttpRequest", "HttpResponse", "HttpMessage"]
