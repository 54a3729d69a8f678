"""The framework-neutral HTTP message values the signature code works on.

:class:`HttpRequest` and :class:`HttpResponse` hold a method or status, an absolute URL,
headers (ordered, repeatable, case-insensitive lookup) and the body bytes.  Adapters build
them from httpx, ASGI or anything else; the signing and verifying functions never see a
framework type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from activitypub_kit.signatures._urls import UrlParts, parse_url

HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]]


class Headers:
    """Ordered HTTP header lines with case-insensitive lookup; repeated names are kept."""

    __slots__ = ("_index", "_items")
    _items: list[tuple[str, str]]
    _index: dict[str, list[str]]

    def __init__(self, headers: HeaderInput | Headers = ()) -> None:
        if isinstance(headers, Headers):
            self._items = list(headers._items)
            self._index = {name: list(values) for name, values in headers._index.items()}
            return
        # Lists and tuples first: the Mapping check is an (ABC) isinstance call.
        pairs: Iterable[tuple[str, str]] = (
            headers  # type: ignore[assignment]
            if type(headers) in (list, tuple) or not isinstance(headers, Mapping)
            else headers.items()
        )
        items: list[tuple[str, str]] = []
        index: dict[str, list[str]] = {}
        for name, value in pairs:
            if type(name) is not str or type(value) is not str:
                name, value = str(name), str(value)
            items.append((name, value))
            lower = name.lower()
            values = index.get(lower)
            if values is None:
                index[lower] = [value]
            else:
                values.append(value)
        self._items = items
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
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.body = body
        self.request_target = request_target
        self.trailers = None if trailers is None else _headers(trailers)
        # The URL's derived parts, computed on first use for the URL they were taken from.
        self._url_parts: UrlParts | None = None
        self._parsed_url: str | None = None

    def __repr__(self) -> str:
        return f"HttpRequest({self.method!r}, {self.url!r}, {self.headers!r}, {self.body!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HttpRequest) and (
            (self.method, self.url, self.headers, self.body, self.request_target, self.trailers)
            == (other.method, other.url, other.headers, other.body, other.request_target,
                other.trailers)
        )  # fmt: skip

    __hash__ = None  # type: ignore[assignment]

    def _parse_url(self) -> UrlParts:
        parts = self._url_parts = parse_url(self.url)
        self._parsed_url = self.url
        return parts

    # Each property checks the memo inline (no extra call once the URL is parsed).
    @property
    def scheme(self) -> str:
        """The URL scheme, lower-case."""
        parts = self._url_parts
        if parts is None or self._parsed_url is not self.url:
            parts = self._parse_url()
        return parts.scheme

    @property
    def authority(self) -> str:
        """Host (lower-case) and port, the port omitted when it is the scheme's default."""
        parts = self._url_parts
        if parts is None or self._parsed_url is not self.url:
            parts = self._parse_url()
        return parts.authority

    @property
    def path(self) -> str:
        """The URL path (``/`` when empty), as sent."""
        parts = self._url_parts
        if parts is None or self._parsed_url is not self.url:
            parts = self._parse_url()
        return parts.path

    @property
    def query(self) -> str:
        """The query string without ``?`` (empty when absent)."""
        parts = self._url_parts
        if parts is None or self._parsed_url is not self.url:
            parts = self._parse_url()
        return parts.query

    @property
    def target(self) -> str:
        """The request-target: origin-form ``path?query`` unless overridden."""
        if self.request_target is not None:
            return self.request_target
        parts = self._url_parts
        if parts is None or self._parsed_url is not self.url:
            parts = self._parse_url()
        return parts.target

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
        copy._url_parts, copy._parsed_url = self._url_parts, self._parsed_url  # same URL
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
