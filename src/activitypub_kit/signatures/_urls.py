"""The parts of a request URL that signatures cover: scheme, authority, path, query, target.

Every verified request needs them, so the common shape (``https://host[:port]/path?query``,
lower-case scheme, a plain host name, printable ASCII, no fragment or user info) is split
by one regular expression; anything else goes through :func:`urllib.parse.urlsplit`.
A property test pins the two to the same answer.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from activitypub_kit.errors import MalformedSignatureError

_DEFAULT_PORTS = {"http": 80, "https": 443}
_new = tuple.__new__
# Path: "/" then printable ASCII without "?" and "#"; query: printable ASCII without "#".
_FAST_URL = re.compile(
    r"(https?)://([A-Za-z0-9][A-Za-z0-9._-]*)(?::([0-9]{1,5}))?"
    r"(/[\x21\x22\x24-\x3e\x40-\x7e]*)?(?:\?([\x21\x22\x24-\x7e]*))?"
)


class UrlParts(NamedTuple):
    """What the signature code derives from an absolute request URL."""

    #: The scheme, lower-case.
    scheme: str
    #: Host (lower-case, IPv6 in brackets) and port, the port omitted when it is the default.
    authority: str
    #: The path as sent, ``/`` when empty.
    path: str
    #: The query without ``?`` (empty when absent).
    query: str
    #: The origin-form request-target: ``path`` plus ``?query`` when the URL has a ``?``.
    target: str


def _authority(scheme: str, host: str, port: int | None) -> str:
    if port is None or _DEFAULT_PORTS.get(scheme) == port:
        return host
    return f"{host}:{port}"


def _parse_fast(url: str) -> UrlParts | None:
    match = _FAST_URL.fullmatch(url)
    if match is None:
        return None
    scheme, host, port, path, query = match.groups()
    if port is not None:
        number = int(port)
        if number > 65535:
            return None  # the general path reports it
        authority = _authority(scheme, host.lower(), number)
    else:
        authority = host.lower()
    if not path:
        path = "/"
    # tuple.__new__ skips the NamedTuple's Python-level __new__ (this runs per request).
    if query is None:
        return _new(UrlParts, (scheme, authority, path, "", path))
    return _new(UrlParts, (scheme, authority, path, query, f"{path}?{query}"))


def _parse_general(url: str) -> UrlParts:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MalformedSignatureError(f"request URL {url!r} is invalid: {exc}") from None
    if not parts.scheme or not parts.netloc:
        raise MalformedSignatureError(f"request URL {url!r} is not absolute")
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    path, query = parts.path or "/", parts.query
    target = f"{path}?{query}" if query or url.endswith("?") else path
    return UrlParts(scheme, _authority(scheme, host, port), path, query, target)


def parse_url(url: str) -> UrlParts:
    """Split an absolute request URL into the parts signatures cover.

    :raises MalformedSignatureError: when ``url`` is not an absolute URL with a host.
    """
    return _parse_recent(url)


# URLs already split.  An inbox receives nearly every request on a handful of URLs (its
# shared inbox and a few personal ones), so the request URL repeats across senders.
@lru_cache(maxsize=256)
def _parse_recent(url: str) -> UrlParts:
    return _parse_fast(url) or _parse_general(url)


__all__ = ["UrlParts", "parse_url"]
